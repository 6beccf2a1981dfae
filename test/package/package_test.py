#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Debian package (docs/install.md), built by scripts/package from a clean copy of the
tree and checked as a user would meet it:

- its file list is exactly the install layout (nothing missing, nothing extra, the
  configuration root-only, `testrun` a relative link to its launcher);
- its metadata: name, version (meson.build's), architecture, and dependencies on runtime
  libraries only;
- lintian reports no error;
- extracted into a temporary directory: `testrund --version`, `--check-config` on the
  packaged configuration, `testrun --help`, and the extracted daemon and client running a
  test together (its result written to results_dir);
- installed for real with dpkg (only as root on a machine without a running systemd, and
  only when testrund is not installed already): the files in place, the unit accepted by
  systemd-analyze, an edited configuration kept across a reinstall, and a purge that removes
  the configuration, the state and the logs.

Python 3 standard library only; the paths come from the environment (test/package/meson.build).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from daemon_process import DaemonProcess

SOURCE_ROOT = os.environ["TESTRUND_SOURCE_ROOT"]
VERSION = os.environ["TESTRUND_VERSION"]


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)


def expected_files():
    """Every path the package must hold (directories aside), from the source tree's docs."""
    files = {
        "etc/testrund/testrund.conf",
        "lib/systemd/system/testrund.service",
        "usr/sbin/testrund",
        "usr/bin/testrun",
        "usr/share/testrund/testrun",
        "usr/share/testrund/testrun.py",
        "usr/share/man/man8/testrund.8.gz",
        "usr/share/man/man1/testrun.1.gz",
        "usr/share/doc/testrund/README.md",
        "usr/share/doc/testrund/changelog.gz",
        "usr/share/doc/testrund/copyright",
        "usr/share/lintian/overrides/testrund",
    }
    docs = os.path.join(SOURCE_ROOT, "docs")
    for folder, dirs, names in os.walk(docs):
        dirs[:] = [d for d in dirs if d != "man"]
        for name in names:
            if name == "meson.build":
                continue
            relative = os.path.relpath(os.path.join(folder, name), docs)
            files.add("usr/share/doc/testrund/docs/" + relative)
    return files


class PackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="testrund_package_")
        built = run([os.path.join(SOURCE_ROOT, "scripts", "package"),
                     os.path.join(cls.tmp, "out")])
        if built.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise AssertionError("scripts/package failed:\n" + built.stdout + built.stderr)
        cls.deb = built.stdout.strip().splitlines()[-1]
        cls.root = os.path.join(cls.tmp, "root")
        extracted = run(["dpkg-deb", "-x", cls.deb, cls.root])
        assert extracted.returncode == 0, extracted.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, relative):
        return os.path.join(self.root, relative)

    def contents(self):
        """{path: (mode string, link target or None)} from `dpkg-deb -c`."""
        listing = run(["dpkg-deb", "-c", self.deb])
        self.assertEqual(listing.returncode, 0, listing.stderr)
        entries = {}
        for line in listing.stdout.splitlines():
            mode, _owner, _size, _date, _time, name = line.split(None, 5)
            target = None
            if " -> " in name:
                name, target = name.split(" -> ", 1)
            entries[name.removeprefix("./").rstrip("/")] = (mode, target)
        return entries

    def test_file_list_is_the_install_layout(self):
        entries = self.contents()
        files = {name for name, (mode, _) in entries.items() if not mode.startswith("d")}
        self.assertEqual(files, expected_files())
        self.assertEqual(entries["etc/testrund/testrund.conf"][0], "-rw-------")
        self.assertEqual(entries["usr/sbin/testrund"][0], "-rwxr-xr-x")
        self.assertEqual(entries["usr/share/testrund/testrun"][0], "-rwxr-xr-x")
        self.assertEqual(entries["usr/bin/testrun"], ("lrwxrwxrwx", "../share/testrund/testrun"))

    def test_metadata_names_runtime_libraries_only(self):
        info = run(["dpkg-deb", "-f", self.deb, "Package", "Version", "Architecture",
                    "Depends"])
        self.assertEqual(info.returncode, 0, info.stderr)
        fields = dict(line.split(": ", 1) for line in info.stdout.splitlines())
        architecture = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertEqual(fields["Package"], "testrund")
        self.assertEqual(fields["Version"], VERSION)
        self.assertEqual(fields["Architecture"], architecture)
        self.assertEqual(os.path.basename(self.deb), f"testrund_{VERSION}_{architecture}.deb")
        depends = [d.strip().split()[0] for d in fields["Depends"].split(",")]
        for needed in ("python3", "libevent-2.1-7", "libevent-openssl-2.1-7", "liblua5.4-0",
                       "libssl3", "libhttp-parser2.9", "libfmt9"):
            self.assertIn(needed, depends)
        self.assertEqual([d for d in depends if d.endswith("-dev")], [])
        described = run(["dpkg-deb", "-I", self.deb])
        self.assertIn("Description: load-testing daemon speaking JSON-RPC 2.0", described.stdout)

    def test_lintian_reports_no_error(self):
        lint = run(["lintian", "--fail-on", "error", self.deb])
        self.assertEqual(lint.returncode, 0, lint.stdout + lint.stderr)
        self.assertNotRegex(lint.stdout, r"(?m)^E: ")

    def test_extracted_daemon_reports_version_and_checks_config(self):
        version = run([self.path("usr/sbin/testrund"), "--version"])
        self.assertEqual((version.returncode, version.stdout), (0, f"testrund {VERSION}\n"))
        conf = self.path("etc/testrund/testrund.conf")
        checked = run([self.path("usr/sbin/testrund"), "--check-config", "--config", conf])
        self.assertEqual(checked.returncode, 0, checked.stderr)
        self.assertIn("configuration ok", checked.stdout)
        with open(conf, encoding="utf-8") as f:
            self.assertRegex(f.read(), r"(?m)^results_dir = /var/lib/testrund/results$")

    def test_unit_runs_the_installed_binary_with_the_installed_config(self):
        with open(self.path("lib/systemd/system/testrund.service"), encoding="utf-8") as f:
            unit = f.read()
        self.assertNotIn("@", re.sub(r"@system-service|~@privileged @resources", "", unit))
        self.assertRegex(unit, r"(?m)^ExecStart=/usr/sbin/testrund --config "
                               r"\$\{CREDENTIALS_DIRECTORY\}/testrund\.conf$")
        self.assertIn("\nLoadCredential=testrund.conf:/etc/testrund/testrund.conf\n", unit)
        self.assertIn("\nStateDirectory=testrund testrund/results\n", unit)
        self.assertIn("\nDynamicUser=yes\n", unit)

    def test_extracted_testrun_prints_help(self):
        helped = run([self.path("usr/bin/testrun"), "--help"])
        self.assertEqual(helped.returncode, 0, helped.stderr)
        self.assertTrue(helped.stdout.startswith("usage: testrun"), helped.stdout)

    def test_extracted_man_pages_render_without_warnings(self):
        for page in ("usr/share/man/man8/testrund.8.gz", "usr/share/man/man1/testrun.1.gz"):
            rendered = run(["man", "--warnings", "-l", "-Tutf8", self.path(page)],
                           env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
            self.assertEqual(rendered.returncode, 0, rendered.stderr)
            self.assertEqual(rendered.stderr, "", page)

    def test_extracted_daemon_and_client_run_a_test(self):
        results = os.path.join(self.tmp, "results")
        os.mkdir(results)
        daemon = DaemonProcess(binary=self.path("usr/sbin/testrund"), flags=[
            "--config", self.path("etc/testrund/testrund.conf"),
            "--listen", "127.0.0.1:0", "--results-dir", results])
        try:
            testrun = [self.path("usr/bin/testrun"), "--url", daemon.url]
            definition = os.path.join(self.tmp, "definition.json")
            with open(definition, "w", encoding="utf-8") as f:
                json.dump({"operations": [{"type": "eval", "expression": "v.x = instance"},
                                          {"type": "assert", "expression": "v.x >= 0"}],
                           "distribution": {"type": "load", "total": 20, "backlog": 5}}, f)
            started = run(testrun + ["execute", definition])
            self.assertEqual(started.returncode, 0, started.stderr)
            run_id = started.stdout.strip()
            watched = run(testrun + ["watch", run_id])
            self.assertEqual(watched.returncode, 0, watched.stdout + watched.stderr)
            with open(os.path.join(results, run_id + ".json"), encoding="utf-8") as f:
                final = json.load(f)
            self.assertEqual(final["counts"]["passed"], 20)
        finally:
            daemon.stop_clean()

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg"), "needs root and dpkg")
    @unittest.skipIf(os.path.isdir("/run/systemd/system"),
                     "a running systemd would start the service")
    def test_install_keeps_edited_config_and_purge_removes_everything(self):
        status = run(["dpkg-query", "-W", "-f=${Status}", "testrund"])
        if "installed" in status.stdout:
            self.skipTest("testrund is installed on this machine: not touching it")
        try:
            self.install()
            for path in ("/usr/sbin/testrund", "/usr/bin/testrun", "/etc/testrund/testrund.conf",
                         "/lib/systemd/system/testrund.service"):
                self.assertTrue(os.path.exists(path), path)
            self.assertEqual(run(["man", "-w", "testrund"]).stdout.strip(),
                             "/usr/share/man/man8/testrund.8.gz")
            if shutil.which("systemd-analyze"):
                verified = run(["systemd-analyze", "verify", "--man=no",
                                "/lib/systemd/system/testrund.service"])
                self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)
            with open("/etc/testrund/testrund.conf", "a", encoding="utf-8") as f:
                f.write("token = an-operator-token-kept-across-upgrades:operator\n")
            self.install()
            with open("/etc/testrund/testrund.conf", encoding="utf-8") as f:
                self.assertIn("an-operator-token-kept-across-upgrades", f.read())
            self.simulate_service_directories()
        finally:
            purged = run(["dpkg", "--purge", "testrund"])
        self.assertEqual(purged.returncode, 0, purged.stdout + purged.stderr)
        for path in ("/usr/sbin/testrund", "/usr/bin/testrun", "/etc/testrund",
                     "/var/lib/testrund", "/var/lib/private/testrund", "/var/log/testrund",
                     "/var/log/private/testrund", "/usr/share/testrund"):
            self.assertFalse(os.path.lexists(path), path)

    def install(self):
        installed = run(["dpkg", "-i", self.deb],
                        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        self.assertEqual(installed.returncode, 0, installed.stdout + installed.stderr)

    def simulate_service_directories(self):
        """What systemd makes for a DynamicUser service's StateDirectory and LogsDirectory:
        the directories under private/ and a link beside them, with a result file inside."""
        for kind in ("lib", "log"):
            private = f"/var/{kind}/private/testrund"
            os.makedirs(private, exist_ok=True)
            if not os.path.lexists(f"/var/{kind}/testrund"):
                os.symlink("private/testrund", f"/var/{kind}/testrund")
        os.makedirs("/var/lib/private/testrund/results", exist_ok=True)
        with open("/var/lib/private/testrund/results/run.json", "w", encoding="utf-8") as f:
            f.write("{}\n")


if __name__ == "__main__":
    unittest.main(verbosity=2, argv=[sys.argv[0]])
