"""The datalab command line: sessions, operations, archive frames and downloads from a shell.

    datalab frames --target M51 --filter rp
    datalab sessions create "M51 in rp" --target M51 --filter rp --limit 3
    datalab run 1 Median input_files=all --wait --download .

The service's URL and token come from --url/--token or DATALAB_URL/DATALAB_TOKEN.
--json prints the service's own JSON instead of a table, for jq and other programs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datalab.client.api import Datalab
from datalab.client.errors import DatalabError, OperationFailed
from datalab.client.operations import Operation
from datalab.client.records import OUTPUT_KINDS, Frame, OperationSpec
from datalab.client.sessions import Session

ALL_SESSION_INPUTS = "all"


class UsageError(Exception):
    """A command line the user should correct; reported like argparse's own errors."""


# --- parsing key=value operation inputs -------------------------------------------------------
def parse_file_list(text: str, session: Session) -> list[Any]:
    """``all`` (the session's inputs), a JSON list, or comma-separated basenames / file names."""
    if text == ALL_SESSION_INPUTS:
        return list(session.input_data)
    if text.lstrip().startswith("["):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"The list {text!r} is not valid JSON: {error.msg}.") from None
        return values if isinstance(values, list) else [values]
    return [name for name in (part.strip() for part in text.split(",")) if name]


def parse_scalar(text: str, input_type: str | None) -> Any:
    """A value as its wizard type wants it: numbers for int/float, text for string/select, else JSON."""
    if input_type in ("string", "select"):
        return text
    try:
        if input_type == "int":
            return int(text)
        if input_type == "float":
            return float(text)
    except ValueError:
        raise UsageError(f"{text!r} is not a number.") from None
    try:
        return json.loads(text)  # numbers, true/false, lists, objects (a ``source`` {"ra", "dec"})
    except json.JSONDecodeError:
        return text


def parse_operation_inputs(pairs: Sequence[str], spec: OperationSpec | None, session: Session) -> dict[str, Any]:
    """``["input_files=a.fits,b.fits", "align=wcs"]`` -> the operation's ``input_data`` values."""
    file_keys = spec.file_inputs() if spec else []
    values: dict[str, Any] = {}
    for pair in pairs:
        key, separator, text = pair.partition("=")
        if not separator or not key:
            raise UsageError(f"Operation inputs are key=value, not {pair!r}.")
        if key in file_keys:
            values[key] = parse_file_list(text, session)
        else:
            input_type = spec.inputs.get(key, {}).get("type") if spec else None
            values[key] = parse_scalar(text, input_type)
    return values


def frames_from_arguments(names: Sequence[str]) -> list[Any]:
    """Basenames, or ``-``: JSON from stdin (``datalab frames --json`` output or a list of items)."""
    frames: list[Any] = []
    for name in names:
        if name != "-":
            frames.append(name)
            continue
        try:
            loaded = json.load(sys.stdin)
        except json.JSONDecodeError as error:
            raise UsageError(f"Standard input is not JSON: {error.msg}.") from None
        records = loaded.get("results", []) if isinstance(loaded, dict) else loaded
        for record in records:
            is_archive_record = isinstance(record, dict) and "primary_optical_element" in record
            frames.append(Frame.from_record(record) if is_archive_record else record)
    return frames


# --- printing ---------------------------------------------------------------------------------
def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2)
    sys.stdout.write("\n")


def print_table(rows: list[list[Any]], header: list[str]) -> None:
    cells = [header] + [["" if cell is None else str(cell) for cell in row] for row in rows]
    widths = [max(len(row[column]) for row in cells) for column in range(len(header))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def describe_operation(operation: Operation) -> None:
    line = f"Operation {operation.id} ({operation.name}) in session {operation.session_id}: {operation.status}"
    print(f"{line} - {operation.message}" if operation.message else line)
    for output in operation.outputs:
        print(f"  output {output.basename} ({output.type})")


# --- commands ---------------------------------------------------------------------------------
def command_sessions(dl: Datalab, args: argparse.Namespace) -> int:
    action = args.sessions_command or "list"
    if action == "list":
        sessions = dl.sessions.list()
        if args.json:
            print_json([session.raw for session in sessions])
        else:
            print_table([[s.id, s.name, len(s.input_data), len(s.operations), s.accessed] for s in sessions],
                        ["ID", "NAME", "INPUTS", "OPERATIONS", "ACCESSED"])
        return 0
    if action == "create":
        frames = frames_from_arguments(args.frames)
        if args.target or args.filter or args.start or args.end:
            frames += dl.archive.search(target=args.target, filter=args.filter, start=args.start, end=args.end,
                                        limit=args.limit)
        if not frames:
            raise UsageError("Give frames to start the session with: basenames, '-' for JSON on stdin, "
                             "or archive filters such as --target M51 --filter rp.")
        session = dl.sessions.create(args.name, frames)
        if args.json:
            print_json(session.raw)
        else:
            print(f"Session {session.id} ({session.name}) with {len(session.input_data)} input frames:")
            for item in session.input_data:
                print(f"  {item.get('basename')}")
        return 0
    if action == "show":
        session = dl.sessions.get(args.session)
        if args.json:
            print_json(session.raw)
            return 0
        print(f"Session {session.id}: {session.name}")
        print(f"Inputs ({len(session.input_data)}):")
        for item in session.input_data:
            print(f"  {item.get('basename')}  [{item.get('source', '')}]")
        print(f"Operations ({len(session.operations)}):")
        for operation in session.operations:
            print(f"  {operation.id}  {operation.name}  {operation.status}  {operation.progress:.0%}")
        return 0
    dl.sessions.delete(args.session)  # action == "delete"
    if args.json:
        print_json({"deleted": args.session})
    else:
        print(f"Deleted session {args.session}.")
    return 0


def command_operations(dl: Datalab, args: argparse.Namespace) -> int:
    if args.session is not None:
        operations = dl.sessions.get(args.session).list_operations()
        if args.json:
            print_json([operation.raw for operation in operations])
        else:
            print_table([[op.id, op.name, op.status, f"{op.progress:.0%}", op.message] for op in operations],
                        ["ID", "NAME", "STATUS", "PROGRESS", "MESSAGE"])
        return 0
    specs = dl.operations()
    if args.json:
        print_json({spec.name: spec.raw for spec in specs})
        return 0
    for spec in specs:
        print(f"{spec.name}: {', '.join(spec.describe_input(key) for key in spec.inputs)}")
    return 0


def download_outputs(operation: Operation, directory: Path, kinds: Sequence[str]) -> list[dict[str, str]]:
    """Every output's products of the asked kinds (by default its FITS, or its large JPEG if none)."""
    saved = []
    for output in operation.outputs:
        wanted = [kind for kind in (kinds or ["fits"]) if getattr(output, OUTPUT_KINDS[kind][0])]
        if not wanted and not kinds:
            wanted = ["large"] if output.large_url else []
        for kind in wanted:
            path = output.download(directory, kind)
            saved.append({"basename": output.basename, "kind": kind, "path": str(path)})
    return saved


def command_run(dl: Datalab, args: argparse.Namespace) -> int:
    session = dl.sessions.get(args.session)
    spec = dl.available_operations().get(args.operation)
    inputs = parse_operation_inputs(args.inputs, spec, session)
    operation = session.run(args.operation, inputs)
    if not args.json:
        print(f"Started operation {operation.id} ({operation.name}) in session {session.id}.", file=sys.stderr)
    return finish(operation, args, wait=args.wait or bool(args.download))


def command_download(dl: Datalab, args: argparse.Namespace) -> int:
    operation = dl.sessions.get(args.session).operation(args.operation_id)
    return finish(operation, args, wait=True, directory=args.directory)


def finish(operation: Operation, args: argparse.Namespace, *, wait: bool, directory: str | None = None) -> int:
    """Wait if asked, download if asked, then print the operation (or its JSON)."""
    directory = directory or getattr(args, "download", None)
    try:
        if wait:
            operation.wait(timeout=args.timeout, progress=args.progress)
    except OperationFailed:
        if args.json:
            print_json(operation.raw)
        raise
    saved = download_outputs(operation, Path(directory), args.kind) if directory else []
    if args.json:
        print_json({**operation.raw, "downloaded": saved} if directory else operation.raw)
        return 0
    describe_operation(operation)
    for entry in saved:
        print(f"  saved {entry['path']}")
    return 0


def command_frames(dl: Datalab, args: argparse.Namespace) -> int:
    frames = dl.archive.search(target=args.target, filter=args.filter, start=args.start, end=args.end,
                               basename=args.basename, proposal=args.proposal, public=args.public,
                               limit=args.limit)
    if args.json:
        print_json([frame.raw for frame in frames])
    else:
        print_table([[f.basename, f.filter, f.target_name, f.observation_date] for f in frames],
                    ["BASENAME", "FILTER", "TARGET", "OBSERVED"])
    return 0


# --- the parser -------------------------------------------------------------------------------
def connection_options() -> argparse.ArgumentParser:
    """Options accepted before or after the command; SUPPRESS keeps a later default from hiding an earlier value."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=argparse.SUPPRESS, help="service address (default $DATALAB_URL)")
    common.add_argument("--token", default=argparse.SUPPRESS, help="API token (default $DATALAB_TOKEN)")
    common.add_argument("--archive-url", default=argparse.SUPPRESS,
                        help="frames API to search (default $DATALAB_ARCHIVE_URL, else <url>/archive/)")
    common.add_argument("--archive-token", default=argparse.SUPPRESS,
                        help="token for that archive (default $DATALAB_ARCHIVE_TOKEN)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print the service's JSON instead of a table")
    return common


def archive_filters(parser: argparse.ArgumentParser, *, limit: int) -> None:
    parser.add_argument("--target", help="part of the target (object) name, e.g. M51")
    parser.add_argument("--filter", help="the filter exactly, e.g. rp")
    parser.add_argument("--start", help="observed on or after this ISO date/time")
    parser.add_argument("--end", help="observed on or before this ISO date (the whole day)")
    parser.add_argument("--limit", type=int, default=limit, help=f"at most this many frames (default {limit})")


def wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=float, help="stop waiting after this many seconds")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: only on a terminal)")
    parser.add_argument("--kind", action="append", choices=sorted(OUTPUT_KINDS), default=[],
                        help="which product to download, repeatable (default fits)")


def build_parser() -> argparse.ArgumentParser:
    common = connection_options()
    parser = argparse.ArgumentParser(prog="datalab", parents=[common], description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    sessions = commands.add_parser("sessions", parents=[common], help="list, create, show or delete sessions")
    actions = sessions.add_subparsers(dest="sessions_command", metavar="[list|create|show|delete]")
    actions.add_parser("list", parents=[common], help="your sessions (the default)")
    create = actions.add_parser("create", parents=[common], help="a new session from frames")
    create.add_argument("name")
    create.add_argument("frames", nargs="*", help="basenames or file names, or - for JSON on stdin")
    archive_filters(create, limit=100)
    for name, text in (("show", "one session's inputs and operations"), ("delete", "delete a session")):
        actions.add_parser(name, parents=[common], help=text).add_argument("session", type=int)

    operations = commands.add_parser("operations", parents=[common],
                                     help="the operations offered, or those of one session")
    operations.add_argument("session", type=int, nargs="?")

    run = commands.add_parser("run", parents=[common], help="start an operation in a session",
                              description="Inputs are key=value: numbers and JSON as such, image inputs as "
                                          "comma-separated basenames, a JSON list, or 'all' (the session's inputs).")
    run.add_argument("session", type=int)
    run.add_argument("operation", help='exact operation name, e.g. Median or "Color Image"')
    run.add_argument("inputs", nargs="*", metavar="key=value")
    run.add_argument("--wait", action="store_true", help="wait until it finishes (progress on a terminal)")
    run.add_argument("--download", metavar="DIR", help="then download its outputs into DIR (implies --wait)")
    wait_options(run)

    download = commands.add_parser("download", parents=[common],
                                   help="download an operation's outputs (waits until it finishes)")
    download.add_argument("session", type=int)
    download.add_argument("operation_id", type=int)
    download.add_argument("directory", nargs="?", default=".")
    wait_options(download)

    frames = commands.add_parser("frames", parents=[common], help="search the archive for frames")
    archive_filters(frames, limit=20)
    frames.add_argument("--basename", help="part of the basename")
    frames.add_argument("--proposal", help="the proposal id exactly")
    frames.add_argument("--public", action=argparse.BooleanOptionalAction, default=None,
                        help="only public (or, with --no-public, only proprietary) frames")
    return parser


COMMANDS = {"sessions": command_sessions, "operations": command_operations, "run": command_run,
            "download": command_download, "frames": command_frames}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        dl = Datalab(getattr(args, "url", None), getattr(args, "token", None),
                     archive_url=getattr(args, "archive_url", None), archive_token=getattr(args, "archive_token", None))
        if args.command != "frames" and not dl.transport.token:
            print("datalab: error: No API token: pass --token or set DATALAB_TOKEN (scripts/run.sh prints one).",
                  file=sys.stderr)
            return 2
        return COMMANDS[args.command](dl, args)
    except (UsageError, ValueError) as error:
        parser.error(str(error))
    except DatalabError as error:
        print(f"datalab: error: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("\ndatalab: stopped; an operation already started keeps running on the service.", file=sys.stderr)
        return 130
    return 0  # parser.error exits; this satisfies the type checker


if __name__ == "__main__":
    sys.exit(main())
