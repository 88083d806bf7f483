"""Algorithm problems as pictures: a statement with sample tests, and a reference solution that passes them.

A problem comes from a family (``FAMILIES``) with drawn parameters (a divisor, a modulus, the bracket
kinds, a story). Each family has three parts written independently: the statement, an oracle on the host
that computes the expected outputs (often the slow obvious way), and the reference solution the model
should learn (the idiomatic fast way, reading stdin). An item is kept only when the reference, run in the
sandbox on every sample and on hidden tests, prints what the oracle expects: statement, samples and
solution agree, checked by running. The statement is rendered as a page screenshot (800 px wide).
"""

from __future__ import annotations

import html as html_lib
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from viscodex.sandbox import Sandbox, SandboxError, Viewport

from .base import Meta, Program, Rendered, Synthesizer, SynthFailure, item_rng, screenshot

Family = Literal[
    "sum_multiples",
    "max_subarray",
    "count_primes",
    "reverse_words",
    "gcd_lcm",
    "balanced_brackets",
    "pair_sums",
    "longest_increasing",
    "rotate_grid",
    "fibonacci_mod",
    "most_frequent",
]
FAMILIES: tuple[Family, ...] = get_args(Family)
SAMPLES = 2
HIDDEN = 2
"""Tests the reference must also pass that the statement does not show (catches a reference that only
fits its samples)."""
VIEWPORT = Viewport(width=800, height=400)
INSTRUCTIONS = (
    "Solve the problem in the picture in Python. Read from standard input and write to standard output.",
    "Write a Python program that solves this problem.",
    "Here is a programming problem. Give a Python solution that passes its tests.",
)


@dataclass(frozen=True)
class Problem:
    family: Family
    title: str
    story: str
    input_format: str
    output_format: str
    constraints: tuple[str, ...]
    solution: str
    make_input: Callable[[random.Random], str]
    oracle: Callable[[str], str]
    params: str = ""


def _ints(text: str) -> list[int]:
    return [int(token) for token in text.split()]


# --- families ----------------------------------------------------------------------------------------


def _sum_multiples(rng: random.Random) -> Problem:
    k = rng.randint(2, 9)
    who = rng.choice(("A cashier", "A farmer", "A librarian", "A robot"))
    things = rng.choice(("coins", "baskets", "books", "crates"))

    def make(r: random.Random) -> str:
        n = r.randint(4, 8)
        return f"{n}\n{' '.join(str(r.randint(1, 60)) for _ in range(n))}\n"

    def oracle(text: str) -> str:
        n, *values = _ints(text)
        total = 0
        for value in values[:n]:
            if value % k == 0:
                total += value
        return str(total)

    solution = f"""import sys


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    values = map(int, data[1 : n + 1])
    print(sum(v for v in values if v % {k} == 0))


main()
"""
    return Problem(
        "sum_multiples",
        f"Multiples of {k}",
        f"{who} counts {things}. Only the numbers divisible by {k} are kept. What is the total of the kept numbers?",
        "The first line holds n. The second line holds n integers a1 ... an.",
        f"Print the sum of the numbers that are divisible by {k} (0 if there are none).",
        ("1 ≤ n ≤ 10^5", "1 ≤ ai ≤ 10^9"),
        solution,
        make,
        oracle,
        f"k={k}",
    )


def _max_subarray(rng: random.Random) -> Problem:
    story = rng.choice(
        (
            "A trader records the daily profit (negative for a loss) of a stock.",
            "A hiker writes down the change in altitude of each stretch of a trail.",
            "A game logs the points won or lost in each round.",
        )
    )

    def make(r: random.Random) -> str:
        n = r.randint(5, 8)
        return f"{n}\n{' '.join(str(r.randint(-9, 9)) for _ in range(n))}\n"

    def oracle(text: str) -> str:
        n, *values = _ints(text)
        values = values[:n]
        return str(max(sum(values[i:j]) for i in range(n) for j in range(i + 1, n + 1)))

    solution = """import sys


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    values = list(map(int, data[1 : n + 1]))
    best = current = values[0]
    for value in values[1:]:
        current = max(value, current + value)
        best = max(best, current)
    print(best)


main()
"""
    return Problem(
        "max_subarray",
        "Best Streak",
        f"{story} Find the largest total of a non-empty run of consecutive entries.",
        "The first line holds n. The second line holds n integers.",
        "Print the largest sum of a non-empty contiguous block.",
        ("1 ≤ n ≤ 2·10^5", "-10^4 ≤ ai ≤ 10^4"),
        solution,
        make,
        oracle,
    )


def _count_primes(rng: random.Random) -> Problem:
    queries = rng.choice((True, False))

    def make(r: random.Random) -> str:
        if queries:
            t = r.randint(2, 4)
            return f"{t}\n" + "".join(f"{r.randint(1, 60)}\n" for _ in range(t))
        return f"{r.randint(1, 100)}\n"

    def is_prime(value: int) -> bool:
        return value >= 2 and all(value % d for d in range(2, math.isqrt(value) + 1))

    def oracle(text: str) -> str:
        numbers = _ints(text)
        asked = numbers[1 : numbers[0] + 1] if queries else numbers[:1]
        return "\n".join(str(sum(is_prime(v) for v in range(1, n + 1))) for n in asked)

    read = (
        "    t = int(data[0])\n    queries = list(map(int, data[1 : t + 1]))\n"
        if queries
        else "    queries = [int(data[0])]\n"
    )
    solution = f"""import sys


def main():
    data = sys.stdin.read().split()
{read}    limit = max(queries)
    sieve = [True] * (limit + 1)
    sieve[0] = False
    if limit >= 1:
        sieve[1] = False
    for i in range(2, int(limit**0.5) + 1):
        if sieve[i]:
            sieve[i * i :: i] = [False] * len(range(i * i, limit + 1, i))
    count = [0] * (limit + 1)
    for i in range(1, limit + 1):
        count[i] = count[i - 1] + sieve[i]
    print("\\n".join(str(count[n]) for n in queries))


main()
"""
    return Problem(
        "count_primes",
        "Counting Primes",
        "A prime is an integer greater than 1 whose only divisors are 1 and itself. "
        + ("For each query n, count the primes that are at most n." if queries else "Count the primes ≤ n."),
        "The first line holds t, the number of queries; each of the next t lines holds n."
        if queries
        else "One line with the integer n.",
        "For each query, print the count on its own line." if queries else "Print the number of primes ≤ n.",
        ("1 ≤ t ≤ 10^5", "1 ≤ n ≤ 10^6") if queries else ("1 ≤ n ≤ 10^7",),
        solution,
        make,
        oracle,
        f"queries={queries}",
    )


WORDS = ("sun", "river", "code", "blue", "apple", "quiet", "stone", "night", "green", "cloud", "fast", "tree")


def _reverse_words(rng: random.Random) -> Problem:
    upper = rng.random() < 0.4

    def make(r: random.Random) -> str:
        t = r.randint(1, 3)
        lines = [" ".join(r.choice(WORDS) for _ in range(r.randint(2, 5))) for _ in range(t)]
        return f"{t}\n" + "".join(line + "\n" for line in lines)

    def oracle(text: str) -> str:
        lines = text.splitlines()
        out = []
        for line in lines[1 : int(lines[0]) + 1]:
            words = line.split()
            words.reverse()
            out.append(" ".join(w.upper() if upper else w for w in words))
        return "\n".join(out)

    transform = "line.upper().split()" if upper else "line.split()"
    solution = f"""import sys


def main():
    lines = sys.stdin.read().splitlines()
    t = int(lines[0])
    for line in lines[1 : t + 1]:
        print(" ".join(reversed({transform})))


main()
"""
    return Problem(
        "reverse_words",
        "Backwards Talk",
        "A parrot repeats every sentence it hears with the words in reverse order"
        + (", shouting every word in capital letters." if upper else "."),
        "The first line holds t. Each of the next t lines is a sentence of lowercase words separated by spaces.",
        "For each sentence, print its words in reverse order"
        + (" in uppercase" if upper else "")
        + ", separated by single spaces.",
        ("1 ≤ t ≤ 100", "each line has at most 100 words"),
        solution,
        make,
        oracle,
        f"upper={upper}",
    )


def _gcd_lcm(rng: random.Random) -> Problem:
    op = rng.choice(("gcd", "lcm"))

    def make(r: random.Random) -> str:
        t = r.randint(2, 4)
        pairs = []
        for _ in range(t):
            g = r.randint(1, 12)
            pairs.append(f"{g * r.randint(1, 9)} {g * r.randint(1, 9)}")
        return f"{t}\n" + "".join(p + "\n" for p in pairs)

    def gcd(a: int, b: int) -> int:
        while b:
            a, b = b, a % b
        return a

    def oracle(text: str) -> str:
        numbers = _ints(text)
        out = []
        for i in range(numbers[0]):
            a, b = numbers[1 + 2 * i], numbers[2 + 2 * i]
            out.append(str(gcd(a, b) if op == "gcd" else a * b // gcd(a, b)))
        return "\n".join(out)

    solution = f"""import sys
from math import {op}


def main():
    data = sys.stdin.read().split()
    t = int(data[0])
    for i in range(t):
        a, b = int(data[1 + 2 * i]), int(data[2 + 2 * i])
        print({op}(a, b))


main()
"""
    what = (
        "the greatest common divisor (the largest number dividing both)"
        if op == "gcd"
        else "the least common multiple (the smallest positive number both divide)"
    )
    title = "Common Divisor" if op == "gcd" else "Meeting Again"
    return Problem(
        "gcd_lcm",
        title,
        f"For each pair of positive integers a and b, print {what}.",
        "The first line holds t. Each of the next t lines holds two integers a and b.",
        f"Print the {op.upper()} of each pair on its own line.",
        ("1 ≤ t ≤ 10^4", "1 ≤ a, b ≤ 10^9"),
        solution,
        make,
        oracle,
        f"op={op}",
    )


def _balanced_brackets(rng: random.Random) -> Problem:
    kinds = rng.choice(("()", "()[]", "()[]{}"))
    pairs = [kinds[i : i + 2] for i in range(0, len(kinds), 2)]

    def make(r: random.Random) -> str:
        t = r.randint(2, 4)
        lines = []
        for _ in range(t):
            if r.random() < 0.5:
                stack: list[str] = []
                s = ""
                for _ in range(r.randint(2, 8)):
                    if stack and r.random() < 0.5:
                        s += stack.pop()
                    else:
                        pair = r.choice(pairs)
                        s += pair[0]
                        stack.append(pair[1])
                s += "".join(reversed(stack))
            else:
                s = "".join(r.choice(kinds) for _ in range(r.randint(2, 8)))
            lines.append(s)
        return f"{t}\n" + "".join(line + "\n" for line in lines)

    def balanced(s: str) -> bool:
        previous = None
        while previous != s:
            previous = s
            for pair in pairs:
                s = s.replace(pair, "")
        return s == ""

    def oracle(text: str) -> str:
        lines = text.split()
        return "\n".join("YES" if balanced(s) else "NO" for s in lines[1 : int(lines[0]) + 1])

    closing = {pair[1]: pair[0] for pair in pairs}
    solution = f"""import sys

PAIRS = {closing!r}


def balanced(s):
    stack = []
    for ch in s:
        if ch in PAIRS:
            if not stack or stack.pop() != PAIRS[ch]:
                return False
        else:
            stack.append(ch)
    return not stack


def main():
    data = sys.stdin.read().split()
    t = int(data[0])
    for s in data[1 : t + 1]:
        print("YES" if balanced(s) else "NO")


main()
"""
    shown = " ".join(kinds)
    return Problem(
        "balanced_brackets",
        "Balanced Brackets",
        f"A string made of the brackets {shown} is balanced when every opening bracket is closed by the "
        "matching bracket in the right order. Decide for each string whether it is balanced.",
        "The first line holds t. Each of the next t lines holds one non-empty string of brackets.",
        "For each string print YES if it is balanced and NO otherwise.",
        ("1 ≤ t ≤ 1000", "each string has at most 10^5 characters"),
        solution,
        make,
        oracle,
        f"brackets={kinds}",
    )


def _pair_sums(rng: random.Random) -> Problem:
    target = rng.randint(6, 15)

    def make(r: random.Random) -> str:
        n = r.randint(4, 8)
        return f"{n}\n{' '.join(str(r.randint(1, target)) for _ in range(n))}\n"

    def oracle(text: str) -> str:
        n, *values = _ints(text)
        values = values[:n]
        return str(sum(values[i] + values[j] == target for i in range(n) for j in range(i + 1, n)))

    solution = f"""import sys
from collections import Counter


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    seen = Counter()
    pairs = 0
    for value in map(int, data[1 : n + 1]):
        pairs += seen[{target} - value]
        seen[value] += 1
    print(pairs)


main()
"""
    return Problem(
        "pair_sums",
        f"Pairs Summing to {target}",
        f"Count the pairs of positions i < j such that ai + aj = {target}.",
        "The first line holds n. The second line holds n integers.",
        "Print the number of such pairs.",
        ("2 ≤ n ≤ 2·10^5", "1 ≤ ai ≤ 10^9"),
        solution,
        make,
        oracle,
        f"target={target}",
    )


def _longest_increasing(rng: random.Random) -> Problem:
    strict = rng.random() < 0.6

    def make(r: random.Random) -> str:
        n = r.randint(5, 9)
        return f"{n}\n{' '.join(str(r.randint(1, 12)) for _ in range(n))}\n"

    def oracle(text: str) -> str:
        n, *values = _ints(text)
        values = values[:n]
        best = [1] * n
        for i in range(n):
            for j in range(i):
                if values[j] < values[i] or (not strict and values[j] == values[i]):
                    best[i] = max(best[i], best[j] + 1)
        return str(max(best))

    side = "bisect_left" if strict else "bisect_right"
    solution = f"""import sys
from bisect import {side}


def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    tails = []
    for value in map(int, data[1 : n + 1]):
        i = {side}(tails, value)
        if i == len(tails):
            tails.append(value)
        else:
            tails[i] = value
    print(len(tails))


main()
"""
    order = "strictly increasing" if strict else "non-decreasing"
    return Problem(
        "longest_increasing",
        "Climbing Sequence",
        f"Delete as few numbers as possible so that the rest, in their original order, is {order}. "
        "How many numbers remain?",
        "The first line holds n. The second line holds n integers.",
        f"Print the length of the longest {order} subsequence.",
        ("1 ≤ n ≤ 2·10^5", "1 ≤ ai ≤ 10^9"),
        solution,
        make,
        oracle,
        f"strict={strict}",
    )


def _rotate_grid(rng: random.Random) -> Problem:
    clockwise = rng.random() < 0.5

    def make(r: random.Random) -> str:
        rows, cols = r.randint(2, 3), r.randint(2, 4)
        lines = [" ".join(str(r.randint(0, 9)) for _ in range(cols)) for _ in range(rows)]
        return f"{rows} {cols}\n" + "".join(line + "\n" for line in lines)

    def oracle(text: str) -> str:
        lines = text.splitlines()
        rows, cols = map(int, lines[0].split())
        grid = [lines[1 + i].split() for i in range(rows)]
        if clockwise:
            out = [[grid[rows - 1 - i][j] for i in range(rows)] for j in range(cols)]
        else:
            out = [[grid[i][cols - 1 - j] for i in range(rows)] for j in range(cols)]
        return "\n".join(" ".join(row) for row in out)

    rotate = "zip(*grid[::-1])" if clockwise else "list(zip(*grid))[::-1]"
    solution = f"""import sys


def main():
    lines = sys.stdin.read().splitlines()
    rows, cols = map(int, lines[0].split())
    grid = [lines[1 + i].split() for i in range(rows)]
    for row in {rotate}:
        print(" ".join(row))


main()
"""
    direction = "clockwise" if clockwise else "counter-clockwise"
    return Problem(
        "rotate_grid",
        "Turn the Tiles",
        f"A rectangular grid of digits is turned 90 degrees {direction}. Print the grid after the turn.",
        "The first line holds r and c. Each of the next r lines holds c digits separated by spaces.",
        "Print the turned grid: c lines of r digits separated by spaces.",
        ("1 ≤ r, c ≤ 500",),
        solution,
        make,
        oracle,
        f"clockwise={clockwise}",
    )


def _fibonacci_mod(rng: random.Random) -> Problem:
    modulus = rng.choice((10, 100, 1000, 10007, 1_000_000_007))

    def make(r: random.Random) -> str:
        return f"{r.randint(1, 40)}\n"

    def oracle(text: str) -> str:
        n = _ints(text)[0]
        a, b = 0, 1
        for _ in range(n):
            a, b = b, a + b
        return str(a % modulus)

    solution = f"""import sys

MOD = {modulus}


def main():
    n = int(sys.stdin.readline())
    a, b = 0, 1
    for _ in range(n):
        a, b = b, (a + b) % MOD
    print(a)


main()
"""
    return Problem(
        "fibonacci_mod",
        "Rabbit Count",
        f"The Fibonacci numbers are F0 = 0, F1 = 1 and Fn = Fn-1 + Fn-2. Print Fn modulo {modulus}.",
        "One line with the integer n.",
        f"Print Fn mod {modulus}.",
        ("0 ≤ n ≤ 10^6",),
        solution,
        make,
        oracle,
        f"modulus={modulus}",
    )


def _most_frequent(rng: random.Random) -> Problem:
    smallest = rng.random() < 0.7

    def make(r: random.Random) -> str:
        return "".join(r.choice("abcdef") for _ in range(r.randint(5, 14))) + "\n"

    def oracle(text: str) -> str:
        word = text.strip()
        counts = {ch: word.count(ch) for ch in set(word)}
        top = max(counts.values())
        tied = sorted(ch for ch, c in counts.items() if c == top)
        return f"{tied[0] if smallest else tied[-1]} {top}"

    pick = "min" if smallest else "max"
    solution = f"""import sys
from collections import Counter


def main():
    word = sys.stdin.readline().strip()
    counts = Counter(word)
    top = max(counts.values())
    letter = {pick}(ch for ch, count in counts.items() if count == top)
    print(letter, top)


main()
"""
    tie = "the alphabetically first" if smallest else "the alphabetically last"
    return Problem(
        "most_frequent",
        "Favourite Letter",
        f"Find the letter that occurs most often in a word. If several letters tie, choose {tie} of them.",
        "One line with a word of lowercase letters.",
        "Print the letter and the number of times it occurs, separated by a space.",
        ("1 ≤ length ≤ 10^5",),
        solution,
        make,
        oracle,
        f"ties={'first' if smallest else 'last'}",
    )


BUILDERS: dict[Family, Callable[[random.Random], Problem]] = {
    "sum_multiples": _sum_multiples,
    "max_subarray": _max_subarray,
    "count_primes": _count_primes,
    "reverse_words": _reverse_words,
    "gcd_lcm": _gcd_lcm,
    "balanced_brackets": _balanced_brackets,
    "pair_sums": _pair_sums,
    "longest_increasing": _longest_increasing,
    "rotate_grid": _rotate_grid,
    "fibonacci_mod": _fibonacci_mod,
    "most_frequent": _most_frequent,
}
assert tuple(BUILDERS) == FAMILIES


@dataclass(frozen=True)
class Test:
    input: str
    output: str


def problem_for(seed: int, index: int) -> tuple[Problem, list[Test], list[Test]]:
    """Item ``index``'s problem, its shown samples and its hidden tests (outputs from the oracle)."""
    rng = item_rng(seed, "algorithm", index)
    family = FAMILIES[index % len(FAMILIES)] if rng.random() < 0.5 else rng.choice(FAMILIES)
    problem = BUILDERS[family](rng)
    tests: list[Test] = []
    while len(tests) < SAMPLES + HIDDEN:
        given = problem.make_input(rng)
        if all(t.input != given for t in tests) or len(tests) >= SAMPLES:
            tests.append(Test(given, problem.oracle(given)))
    return problem, tests[:SAMPLES], tests[SAMPLES:]


def statement_html(problem: Problem, samples: list[Test]) -> str:
    """The statement page that is screenshotted: what the model sees."""
    e = html_lib.escape
    rows = "\n".join(
        f"  <tr><td><pre>{e(t.input.rstrip())}</pre></td><td><pre>{e(t.output.rstrip())}</pre></td></tr>"
        for t in samples
    )
    limits = "".join(f"<li>{e(c)}</li>" for c in problem.constraints)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>
body {{ font-family: 'DejaVu Serif', Georgia, serif; margin: 24px 32px; color: #111; font-size: 16px; }}
h1 {{ font-size: 24px; margin: 0 0 12px; }}
h2 {{ font-size: 17px; margin: 18px 0 6px; }}
p, li {{ line-height: 1.45; margin: 0; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 4px; }}
th, td {{ border: 1px solid #999; padding: 4px 10px; text-align: left; vertical-align: top; width: 50%; }}
th {{ background: #eee; font-family: sans-serif; font-size: 14px; }}
pre {{ margin: 0; font-family: 'DejaVu Sans Mono', monospace; font-size: 14px; }}
</style></head><body>
<h1>{e(problem.title)}</h1>
<p>{e(problem.story)}</p>
<h2>Input</h2><p>{e(problem.input_format)}</p>
<h2>Output</h2><p>{e(problem.output_format)}</p>
<h2>Constraints</h2><ul>{limits}</ul>
<h2>Examples</h2>
<table>
  <tr><th>Input</th><th>Output</th></tr>
{rows}
</table>
</body></html>
"""


def generate(seed: int, index: int) -> Program:
    problem, samples, hidden = problem_for(seed, index)
    instruction = item_rng(seed, "algorithm-instruction", index).choice(INSTRUCTIONS)
    meta: Meta = {"family": problem.family, "params": problem.params, "samples": len(samples), "hidden": len(hidden)}
    return Program(
        "algorithm",
        seed,
        index,
        problem.solution,
        "python",
        "py",
        instruction,
        {**meta, "seed": seed, "index": index},
        extra={"statement": statement_html(problem, samples), "tests": samples + hidden},
    )


def same_output(got: str, expected: str) -> bool:
    """Judge's comparison: lines equal after trailing whitespace (and trailing blank lines) go."""
    return [line.rstrip() for line in got.strip().splitlines()] == [
        line.rstrip() for line in expected.strip().splitlines()
    ]


def check_solution(code: str, tests: list[Test], sandbox: Sandbox, cancel: threading.Event | None = None) -> None:
    """Run ``code`` on every test in the sandbox; SynthFailure naming the first test it fails."""
    for number, test in enumerate(tests, 1):
        try:
            result = sandbox.run(code, stdin=test.input, timeout_s=10, cancel=cancel)
        except SandboxError as exc:
            raise SynthFailure("sandbox error", str(exc)) from None
        if not result.ok:
            raise SynthFailure("reference failed", f"test {number}: {result.summary()}")
        if not same_output(result.stdout, test.output):
            raise SynthFailure(
                "reference wrong", f"test {number}: expected {test.output.strip()!r}, got {result.stdout.strip()!r}"
            )


def render(program: Program, sandbox: Sandbox, cancel: threading.Event | None = None) -> Rendered:
    """Check the reference on the samples and hidden tests, then screenshot the statement."""
    tests: list[Test] = program.extra["tests"]
    check_solution(program.code, tests, sandbox, cancel)
    return screenshot(sandbox, program.extra["statement"], VIEWPORT, cancel)


SYNTHESIZER = Synthesizer(kind="algorithm", roles=("exec", "html"), generate=generate, render=render)
