#!/usr/bin/env python3
"""Runs the real `fulcrumctl validate` binary: exit codes, located errors, text and JSON output."""

import json
import os
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "testdata")
EXAMPLES = os.path.join(HERE, "..", "..", "examples")


def fulcrumctl():
    path = os.path.join(os.environ.get("FULCRUM_BIN", ""), "fulcrumctl")
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"fulcrumctl not built at {path!r} (set FULCRUM_BIN)")
    return path


def run(*args, cwd=TESTDATA):
    """Runs fulcrumctl with args from the testdata directory (so file names stay relative)."""
    return subprocess.run(
        [fulcrumctl(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


class ValidateTest(unittest.TestCase):
    FIVE_MISTAKES = [
        'five_mistakes.yaml:6:5: listeners[0].trustedHop: unknown field "trustedHop"; '
        'did you mean "trustedHops"?',
        'five_mistakes.yaml:11:52: routes[0].rules[0].matches[0].path.value: invalid regular '
        'expression "^/users/([0-9]+$": missing ): ^/users/([0-9]+$',
        'five_mistakes.yaml:13:20: routes[0].rules[0].backends[0].pool: unknown pool "api-v3"',
        'five_mistakes.yaml:14:29: routes[0].rules[0].timeouts.request: duration "5" needs a '
        'unit (ms, s, m or h), e.g. "5s" or "5ms"',
        'five_mistakes.yaml:18:11: pools[1].name: duplicate pool name "web"; first defined at '
        "pools[0].name (five_mistakes.yaml:16:11)",
    ]

    def test_reports_every_mistake_located_and_exits_1(self):
        result = run("validate", "-f", "five_mistakes.yaml")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(lines[:-1], self.FIVE_MISTAKES)
        self.assertEqual(lines[-1], "5 errors")

    def test_json_output_lists_the_same_errors(self):
        result = run("validate", "-f", "five_mistakes.yaml", "-o", "json")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, "")
        errors = json.loads(result.stdout)
        self.assertEqual(len(errors), 5)
        for error in errors:
            self.assertEqual(set(error), {"file", "line", "column", "path", "message"})
            self.assertEqual(error["file"], "five_mistakes.yaml")
        formatted = [
            f'{e["file"]}:{e["line"]}:{e["column"]}: {e["path"]}: {e["message"]}' for e in errors
        ]
        self.assertEqual(formatted, self.FIVE_MISTAKES)
        self.assertEqual(errors[2]["line"], 13)
        self.assertEqual(errors[2]["column"], 20)
        self.assertEqual(errors[2]["path"], "routes[0].rules[0].backends[0].pool")

    def test_valid_config_exits_0_with_a_summary(self):
        result = run("validate", "-f", os.path.join(EXAMPLES, "quickstart.yaml"))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "valid: 1 listeners, 1 routes, 1 pools\n")
        self.assertEqual(result.stderr, "")

        result = run("validate", "-f", os.path.join(EXAMPLES, "full.yaml"), "-o", "json")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(json.loads(result.stdout), [])

    def test_several_files_merge_into_one_config(self):
        result = run("validate", "-f", "routes.yaml", "-f", "pools.yaml")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, "valid: 1 listeners, 1 routes, 1 pools\n")

        # Alone, the routes file references a pool nobody defines.
        result = run("validate", "-f", "routes.yaml")
        self.assertEqual(result.returncode, 1)
        self.assertIn('routes.yaml:6:32: routes[0].rules[0].backends[0].pool: unknown pool "web"',
                      result.stderr)

    def test_unreadable_file_is_a_located_failure(self):
        result = run("validate", "-f", "no-such-file.yaml")
        self.assertEqual(result.returncode, 1)
        self.assertIn("no-such-file.yaml: cannot read file", result.stderr)

    def test_usage_errors_exit_2(self):
        for args in (
            [],
            ["validate"],
            ["validate", "-f"],
            ["validate", "-f", "pools.yaml", "-o", "yaml"],
            ["validate", "-f", "pools.yaml", "--bogus"],
            ["frobnicate"],
        ):
            with self.subTest(args=args):
                result = run(*args)
                self.assertEqual(result.returncode, 2, result.stdout + result.stderr)
                self.assertNotEqual(result.stderr, "")

    def test_help_exits_0(self):
        result = run("--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("validate", result.stdout)
        result = run("validate", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertIn("--file", result.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
