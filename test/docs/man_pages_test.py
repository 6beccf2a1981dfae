#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the manual pages docs/man/testrund.8 and docs/man/testrun.1 against the programs.

The pages are written by hand; this test makes sure they cannot silently fall behind the
option tables they describe. The truth is what the programs print for --help:

testrund.8 (against `testrund --help`):
- every flag (a help line that starts with two spaces and `--`) is named in the OPTIONS
  section, and every flag of the option table (shown with the argument VALUE) also by its
  configuration key (the flag without `--`, dashes turned into underscores);
- every flag that an OPTIONS entry (a .TP tag) documents exists.

testrun.1 (against `testrun --help` and `testrun COMMAND --help`):
- every global option is named in GLOBAL OPTIONS, and every option a GLOBAL OPTIONS entry
  documents exists;
- every command has its own subsection (.SS whose first word is the command) in COMMANDS,
  that subsection names every option of the command (its options minus the global ones),
  and every option its entries document belongs to the command;
- every status under "exit status:" is the tag of an entry in EXIT STATUS, and every entry
  there is such a status.

Both pages: `groff -man -ww -z PAGE` prints nothing (no warning of any kind).

Text is compared after removing the roff escapes (`\\-` becomes `-`, font changes and
zero-width escapes disappear) and the macro names (`.BR --url ,` reads `--url,`), so an
option counts wherever the page names it in running text, a tag or a synopsis of that
section. An option must stand on its own: `--tls-listen` does not count as `--listen`.

Usage: man_pages_test.py --testrund BUILD/daemon/testrund --testrun scripts/testrun
                         --man-dir docs/man
Exit status 0 when everything matches (one summary line), 1 with one line per problem.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys

TIMEOUT = 60

# Macros whose arguments alternate between two fonts and are printed without spaces.
ALTERNATING = {"BR", "BI", "IB", "IR", "RB", "RI"}
OPTION = re.compile(r"(?<![\w-])--[A-Za-z0-9][\w-]*")


def run(argv):
    """Runs `argv` and returns its standard output; raises RuntimeError if it fails."""
    env = dict(os.environ, COLUMNS="200")  # argparse: one line per option, no wrapping
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"cannot run {' '.join(argv)}: {e}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited with status {proc.returncode}:\n"
                           f"{proc.stderr.strip()}")
    return proc.stdout


# --------------------------------------------------------------------------------------------
# What the programs say


def testrund_flags(binary):
    """Returns (every flag, the flags of the option table) from `testrund --help`."""
    flags, table = [], []
    for line in run([binary, "--help"]).splitlines():
        m = re.match(r"  (--[\w-]+)( VALUE)?(\s|$)", line)
        if m:
            flags.append(m.group(1))
            if m.group(2):
                table.append(m.group(1))
    return flags, table


def help_options(text):
    """The long options of an argparse help text: from each line that starts (after its
    indentation) with `-`, the part before the help column."""
    options = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("-"):
            continue
        invocation = re.split(r"\s{2,}", stripped)[0]
        for option in OPTION.findall(invocation):
            if option not in options:
                options.append(option)
    return options


def help_commands(text):
    """The commands listed under the COMMAND argument of `testrun --help`."""
    commands = []
    in_positionals = False
    for line in text.splitlines():
        if line.startswith("positional arguments"):
            in_positionals = True
        elif in_positionals and line and not line.startswith(" "):
            break
        elif in_positionals:
            m = re.match(r"    ([a-z][\w-]*)(\s{2,}|$)", line)
            if m:
                commands.append(m.group(1))
    return commands


def help_exit_statuses(text):
    """The statuses listed after `exit status:` in a testrun help text."""
    statuses = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "exit status:":
            for entry in lines[i + 1:]:
                m = re.match(r"\s+(\d+)\s", entry)
                if not m:
                    break
                statuses.append(m.group(1))
            break
    return statuses


# --------------------------------------------------------------------------------------------
# What the pages say


def plain(text):
    """`text` with the roff escapes a man page uses resolved or removed."""
    text = text.replace("\\\\", "\x00")
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)  # font changes
    text = re.sub(r"\\\((aq|cq)", "'", text)
    text = re.sub(r"\\\((dq|lq|rq)", '"', text)
    text = re.sub(r"\\\(..|\\\[[^]]*\]", "", text)  # other named glyphs
    text = text.replace("\\-", "-").replace("\\e", "\\").replace("\\~", " ").replace("\\ ", " ")
    text = re.sub(r"\\[&%:c/,|^]", "", text)  # zero-width escapes
    return text.replace("\x00", "\\")


def macro_args(rest):
    """The arguments of a macro line (after its name): words, or "double quoted" strings."""
    return [a[1:-1] if a.startswith('"') else a
            for a in re.findall(r'"[^"]*"|\S+', rest)]


class Page:
    """A man page as plain text lines, each with the macro that produced it."""

    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.lines = []  # (macro or None, plain text)
        with open(path, encoding="utf-8") as f:
            for raw in f.read().splitlines():
                if raw.startswith(('.\\"', "'\\\"")) or raw in (".", "'"):
                    continue  # comments
                if raw[:1] in (".", "'"):
                    m = re.match(r"[.'](\S+)\s*(.*)", raw)
                    name, args = m.group(1), macro_args(m.group(2))
                    joiner = "" if name in ALTERNATING else " "
                    self.lines.append((name, plain(joiner.join(args))))
                else:
                    self.lines.append((None, plain(raw)))

    def section(self, title):
        """The lines of section `title` (.SH), or None when the page has none."""
        return self._block("SH", title, ("SH",))

    def subsections(self, lines):
        """{first word of the .SS heading: its lines} for the subsections in `lines`."""
        result = {}
        current = None
        for macro, text in lines:
            if macro == "SS":
                words = text.split()
                current = words[0] if words else ""
                result[current] = []
            elif current is not None:
                result[current].append((macro, text))
        return result

    def _block(self, macro, title, ends):
        out = None
        for m, text in self.lines:
            if m == macro and text.strip().upper() == title.upper():
                out = []
            elif out is not None and m in ends:
                break
            elif out is not None:
                out.append((m, text))
        return out


def text_of(lines):
    return "\n".join(text for _, text in lines)


def tags(lines):
    """The tag line of every .TP entry in `lines`."""
    result = []
    for i, (macro, _) in enumerate(lines):
        if macro == "TP" and i + 1 < len(lines):
            result.append(lines[i + 1][1])
    return result


def names(word, text):
    """Whether `text` names `word` on its own (not as part of a longer option or key)."""
    return re.search(r"(?<![\w-])" + re.escape(word) + r"(?![\w-])", text) is not None


def groff_problems(page):
    groff = shutil.which("groff")
    if groff is None:
        return [f"{page.name}: groff not found, cannot check that the page renders cleanly"]
    proc = subprocess.run([groff, "-man", "-ww", "-z", page.path], capture_output=True,
                          text=True, timeout=TIMEOUT)
    output = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0 or output:
        return [f"{page.name}: groff -man -ww -z (status {proc.returncode}): {line}"
                for line in (output.splitlines() or ["no output"])]
    return []


# --------------------------------------------------------------------------------------------
# The checks


def check_testrund(binary, page):
    """Returns (problems, counts) for testrund.8."""
    flags, table = testrund_flags(binary)
    problems = []
    if not flags:
        return [f"{binary} --help lists no flags (lines starting with '  --')"], {}
    options = page.section("OPTIONS")
    if options is None:
        return [f"{page.name}: no OPTIONS section"], {}
    text = text_of(options)
    keys = [flag[2:].replace("-", "_") for flag in table]
    for flag in flags:
        if not names(flag, text):
            problems.append(f"{page.name}: OPTIONS does not name the flag {flag}")
    for key in keys:
        if not names(key, text):
            problems.append(f"{page.name}: OPTIONS does not name the configuration key {key}")
    for tag in tags(options):
        for option in OPTION.findall(tag):
            if option not in flags:
                problems.append(f"{page.name}: OPTIONS documents {option}, which "
                                f"testrund --help does not list")
    return problems, {"flags": len(flags), "keys": len(keys)}


def check_testrun(script, page):
    """Returns (problems, counts) for testrun.1."""
    problems = []
    top = run([sys.executable, script, "--help"])
    globals_ = help_options(top)
    commands = help_commands(top)
    statuses = help_exit_statuses(top)
    if not globals_ or not commands or not statuses:
        return [f"{script} --help: cannot find its options, commands or exit statuses"], {}

    section = page.section("GLOBAL OPTIONS")
    if section is None:
        problems.append(f"{page.name}: no GLOBAL OPTIONS section")
    else:
        text = text_of(section)
        for option in globals_:
            if not names(option, text):
                problems.append(f"{page.name}: GLOBAL OPTIONS does not name {option}")
        for tag in tags(section):
            for option in OPTION.findall(tag):
                if option not in globals_:
                    problems.append(f"{page.name}: GLOBAL OPTIONS documents {option}, which "
                                    f"testrun --help does not list")

    command_options = 0
    section = page.section("COMMANDS")
    if section is None:
        problems.append(f"{page.name}: no COMMANDS section")
    else:
        documented = page.subsections(section)
        for command in commands:
            options = [o for o in help_options(run([sys.executable, script, command, "--help"]))
                       if o not in globals_]
            command_options += len(options)
            if command not in documented:
                problems.append(f"{page.name}: COMMANDS has no subsection (.SS) for the "
                                f"command {command}")
                continue
            text = text_of(documented[command])
            for option in options:
                if not names(option, text):
                    problems.append(f"{page.name}: COMMANDS, {command}: does not name "
                                    f"{option}")
            for tag in tags(documented[command]):
                for option in OPTION.findall(tag):
                    if option not in options:
                        problems.append(f"{page.name}: COMMANDS, {command}: documents "
                                        f"{option}, which testrun {command} --help does not "
                                        f"list")
        for command in documented:
            if command not in commands:
                problems.append(f"{page.name}: COMMANDS has a subsection for {command}, "
                                f"which testrun --help does not list")

    section = page.section("EXIT STATUS")
    if section is None:
        problems.append(f"{page.name}: no EXIT STATUS section")
    else:
        documented = [tag.split()[0] for tag in tags(section) if tag.split()]
        for status in statuses:
            if status not in documented:
                problems.append(f"{page.name}: EXIT STATUS has no entry (.TP) for status "
                                f"{status}")
        for status in documented:
            if status not in statuses:
                problems.append(f"{page.name}: EXIT STATUS documents {status}, which "
                                f"testrun --help does not list")
    return problems, {"global options": len(globals_), "commands": len(commands),
                      "command options": command_options, "exit statuses": len(statuses)}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--testrund", required=True, help="the testrund binary")
    parser.add_argument("--testrun", required=True, help="scripts/testrun")
    parser.add_argument("--man-dir", required=True, help="the directory of the pages (docs/man)")
    args = parser.parse_args(argv[1:])

    problems = []
    counts = {}
    pages = []
    for name in ("testrund.8", "testrun.1"):
        path = os.path.join(args.man_dir, name)
        if not os.path.isfile(path):
            problems.append(f"{path}: no such page")
            continue
        pages.append(Page(path))
    for page in pages:
        check = check_testrund if page.name == "testrund.8" else check_testrun
        program = args.testrund if page.name == "testrund.8" else args.testrun
        try:
            found, page_counts = check(program, page)
        except RuntimeError as e:
            found, page_counts = [f"{page.name}: {e}"], {}
        problems += found
        counts.update(page_counts)
        problems += groff_problems(page)

    for problem in problems:
        print(problem)
    if problems:
        print(f"man pages: {len(problems)} problem(s)")
        return 1
    print("man pages ok: testrund.8 names {flags} flags and {keys} configuration keys; "
          "testrun.1 names {global options} global options, {commands} commands with "
          "{command options} command options and {exit statuses} exit statuses; both render "
          "without groff warnings".format(**counts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
