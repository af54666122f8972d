"""A small hand-written film catalogue shared by retrieval and dialogue tests."""

from __future__ import annotations

from retrieval.schema import Item

_FILMS = [
    # id, title, year, genres, people, text
    ("m1", "Alien", 1979, ["horror", "science fiction"], ["Ridley Scott", "Sigourney Weaver"],
     "The crew of a space freighter is hunted by a deadly alien creature aboard their ship."),
    ("m2", "Aliens", 1986, ["action", "science fiction"], ["James Cameron", "Sigourney Weaver"],
     "Marines return to the alien planet and fight swarms of creatures in a colony."),
    ("m3", "The Shining", 1980, ["horror"], ["Stanley Kubrick", "Jack Nicholson"],
     "A writer caretaking an isolated haunted hotel in winter descends into madness."),
    ("m4", "Spaceballs", 1987, ["comedy", "science fiction"], ["Mel Brooks", "Rick Moranis"],
     "A funny parody of space operas: a rogue pilot rescues a princess from an evil helmet-wearing villain."),
    ("m5", "Galaxy Quest", 1999, ["comedy", "science fiction"], ["Dean Parisot", "Tim Allen", "Sigourney Weaver"],
     "Actors from a cancelled space TV show are mistaken for real heroes by aliens; a hilarious adventure."),
    ("m6", "Back to the Future", 1985, ["comedy", "science fiction", "adventure"], ["Robert Zemeckis", "Michael J. Fox"],
     "A teenager travels back in time in a DeLorean and must make his parents fall in love; funny and warm."),
    ("m7", "Ghostbusters", 1984, ["comedy", "fantasy"], ["Ivan Reitman", "Bill Murray", "Sigourney Weaver"],
     "Three parapsychologists start a ghost-catching business in New York; a hilarious supernatural comedy."),
    ("m8", "When Harry Met Sally", 1989, ["comedy", "romance"], ["Rob Reiner", "Billy Crystal", "Meg Ryan"],
     "Two friends spend years wondering whether men and women can just be friends; a romantic comedy."),
    ("m9", "Notting Hill", 1999, ["comedy", "romance"], ["Roger Michell", "Hugh Grant", "Julia Roberts"],
     "A London bookshop owner falls in love with a famous film star; a charming romantic comedy."),
    ("m10", "Heat", 1995, ["crime", "thriller"], ["Michael Mann", "Al Pacino", "Robert De Niro"],
     "A detective hunts a crew of professional bank robbers in Los Angeles; a tense crime thriller."),
    ("m11", "The Godfather", 1972, ["crime", "drama"], ["Francis Ford Coppola", "Al Pacino", "Marlon Brando"],
     "The aging patriarch of a mafia dynasty transfers control of his empire to his reluctant son."),
    ("m12", "Toy Story", 1995, ["animation", "comedy", "family"], ["John Lasseter", "Tom Hanks"],
     "Toys come to life when nobody is watching; a cowboy doll feels replaced by a space ranger toy."),
    ("m13", "The Exorcist", 1973, ["horror"], ["William Friedkin", "Ellen Burstyn"],
     "A girl is possessed by a demon and two priests attempt a terrifying exorcism."),
    ("m14", "Halloween", 1978, ["horror", "thriller"], ["John Carpenter", "Jamie Lee Curtis"],
     "A masked killer stalks babysitters in a small town on Halloween night; a scary slasher."),
    ("m15", "Airplane!", 1980, ["comedy"], ["Jim Abrahams", "Leslie Nielsen"],
     "A former pilot must land a passenger jet after the crew gets food poisoning; an absurd, very funny spoof."),
    ("m16", "Star Wars", 1977, ["adventure", "science fiction"], ["George Lucas", "Mark Hamill", "Harrison Ford"],
     "A farm boy joins rebels, a smuggler and a princess to fight an evil galactic empire in space."),
    ("m17", "Blade Runner", 1982, ["science fiction", "thriller"], ["Ridley Scott", "Harrison Ford"],
     "A detective hunts rogue replicants in a rainy, neon-lit future Los Angeles."),
    ("m18", "Titanic", 1997, ["drama", "romance"], ["James Cameron", "Leonardo DiCaprio", "Kate Winslet"],
     "A poor artist and a rich young woman fall in love aboard the doomed ocean liner."),
    ("m19", "Finding Nemo", 2003, ["animation", "family", "comedy"], ["Andrew Stanton", "Albert Brooks"],
     "A timid clownfish crosses the ocean to find his son; a funny, touching family adventure."),
    ("m20", "Get Out", 2017, ["horror", "thriller"], ["Jordan Peele", "Daniel Kaluuya"],
     "A young man visits his girlfriend's family estate and uncovers a disturbing secret; a scary thriller."),
    ("m21", "Mars Attacks!", 1996, ["comedy", "science fiction"], ["Tim Burton", "Jack Nicholson"],
     "Martians invade Earth in a goofy, satirical alien invasion comedy."),
    ("m22", "The Thing", 1982, ["horror", "science fiction"], ["John Carpenter", "Kurt Russell"],
     "Researchers in Antarctica are hunted by a shape-shifting alien that imitates its victims."),
]


def make_items() -> list[Item]:
    return [
        Item(id=i, title=t, year=y, genres=tuple(g), people=tuple(p),
             text=f"{t} ({y}). Genres: {', '.join(g)}. {d} With {', '.join(p)}.",
             facts={"runtime": 90 + n * 3, "rating": round(6.0 + (n % 7) * 0.4, 1)},
             popularity=float(1000 - n * 37 % 500))
        for n, (i, t, y, g, p, d) in enumerate(_FILMS)
    ]
