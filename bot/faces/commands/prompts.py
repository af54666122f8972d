"""`recbot prompts list|show|render|validate`: inspect and try out the prompt templates."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from prompts.loader import DEFAULT_ROOT, PromptError, PromptLibrary

PROMPTS_HELP = """\
Prompt templates are YAML files (one per template) grouped in sets: `default`, and sets such as
`customer_service` that override some templates and inherit the rest. The packaged templates live in
{root}; edited versions saved by the prompt editor go to <data_dir>/prompts and are picked up here too.
Add more folders with --dir.

examples:
  recbot prompts list
  recbot prompts show recommend --set customer_service
  recbot prompts render elicit --vars vars.json          # vars.json: {{"slot": "genre"}}
  echo '{{"user_message": "hi"}}' | recbot prompts render chitchat --vars -
  recbot prompts validate
"""


def _library(args: argparse.Namespace) -> PromptLibrary:
    roots: list[Path] = [DEFAULT_ROOT]
    try:
        from bot.settings import get_settings

        user_dir = get_settings().data_dir / "prompts"
        if user_dir.is_dir():
            roots.append(user_dir)
    except Exception as exc:  # settings are optional here; a broken recbot.toml must not hide prompts
        print(f"warning: settings not loaded ({exc}); using packaged prompts only", file=sys.stderr)
    roots += [Path(d) for d in args.dir or []]
    return PromptLibrary(roots)


def cmd_list(args: argparse.Namespace) -> int:
    lib = _library(args)
    rows = lib.list(args.set)
    width = max((len(r.name) for r in rows), default=4)
    current = None
    for r in rows:
        if r.set_name != current:
            current = r.set_name
            extends = lib.parent(current)
            print(f"{current}" + (f"  (inherits from {extends})" if extends else ""))
        origin = f"  [from {r.inherited_from}]" if r.inherited_from else ""
        summary = r.description.split(". ")[0].strip()
        print(f"  {r.name:<{width}}  v{r.version}  {summary}{origin}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    lib = _library(args)
    template = lib.get(args.name, args.set, version=args.version)
    print(f"# {template.path}  (set {template.set_name}, version {template.version})")
    versions = [t.version for t in lib.versions(args.name, args.set)]
    if len(versions) > 1:
        print(f"# versions: {', '.join(str(v) for v in versions)}")
    print(template.source(), end="" if template.source().endswith("\n") else "\n")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    lib = _library(args)
    template = lib.get(args.name, args.set, version=args.version)
    values: dict = {}
    if args.vars:
        raw = sys.stdin.read() if args.vars == "-" else Path(args.vars).read_text(encoding="utf-8")
        try:
            values = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            print(f"error: {args.vars}: invalid JSON: {exc}", file=sys.stderr)
            return 2
        if not isinstance(values, dict):
            print(f"error: {args.vars}: expected a JSON object of variable values", file=sys.stderr)
            return 2
    messages = template.render(**values)
    if args.json:
        print(json.dumps(messages, indent=2, ensure_ascii=False))
    else:
        for m in messages:
            print(f"[{m['role']}]")
            print(m["content"])
            print()
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    lib = _library(args)
    loaded = lib.validate_all()
    print(f"{len(loaded)} template files valid in {len(lib.sets())} set(s): {', '.join(lib.sets())}")
    return 0


def _guard(func):  # PromptError -> one clear line on stderr, exit status 2
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except (PromptError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = sub.add_parser("prompts", help="list, show and render prompt templates",
                            description=PROMPTS_HELP.format(root=DEFAULT_ROOT),
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="prompts_command", metavar="ACTION")

    def common(p: argparse.ArgumentParser, with_set_default: str | None = "default") -> None:
        p.add_argument("--set", default=with_set_default, help="template set (default: %(default)s)")
        p.add_argument("--dir", action="append", default=[],
                       help="extra folder of template sets (repeatable)")

    p = commands.add_parser("list", help="every template of every set (or of --set)")
    common(p, None)
    p.set_defaults(func=_guard(cmd_list))

    p = commands.add_parser("show", help="print a template file")
    p.add_argument("name")
    p.add_argument("--version", help="a specific version (default: the latest)")
    common(p)
    p.set_defaults(func=_guard(cmd_show))

    p = commands.add_parser("render", help="render a template with variables from a JSON file")
    p.add_argument("name")
    p.add_argument("--vars", help="JSON file with the variables ('-' reads stdin)")
    p.add_argument("--version", help="a specific version (default: the latest)")
    p.add_argument("--json", action="store_true", help="print the messages as JSON")
    common(p)
    p.set_defaults(func=_guard(cmd_render))

    p = commands.add_parser("validate", help="load and check every template file")
    common(p, None)
    p.set_defaults(func=_guard(cmd_validate))

    parser.set_defaults(func=lambda args: (parser.print_help(), 0)[1])
    return parser
