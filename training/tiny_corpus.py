"""The fixed text the tiny models' tokenizer is trained on.

It lives in the code, not in a download or in files of the Python installation, so the tokenizer (and so
every tiny checkpoint) is the same on every machine. It mixes the kinds of text VisCodex sees: English
requests and explanations, Python, HTML, CSS and JavaScript. Changing it changes the tokenizer and every
tiny model built from it.
"""

from __future__ import annotations

CORPUS: tuple[str, ...] = (
    # English: requests, explanations and review comments.
    """Please write the HTML and CSS for the pricing card in this screenshot. The card has a title, a price,
a list of features and a button. Keep the colors, the spacing and the rounded corners as they are.
The chart shows the quarterly sales of three products. Reproduce it with matplotlib: a bar chart with
one group per quarter, a legend in the upper left corner, and the values written above each bar.
The error message says that the list index is out of range. The loop reads one element past the end
of the list, so the last iteration fails. Change the range so that it stops before the length.
Read the problem statement in the image. Write a function that returns the length of the longest
increasing subsequence, then test it on the examples given below the statement.
The user interface is a login form with two fields, a checkbox to remember the user and a link for a
forgotten password. The layout is centered, the background is light gray and the font is sans serif.
This model was trained on images of user interfaces, charts and programming problems. It answers with
code, and the code is run in a sandbox to check that it works before it is shown to you.
Thank you! The result looks right now, but the header should be a little darker and the margins wider.
""",
    # Python.
    '''import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Point:
    x: float
    y: float

    def distance(self, other: "Point") -> float:
        """Return the Euclidean distance between two points."""
        return math.hypot(self.x - other.x, self.y - other.y)


def longest_increasing_subsequence(values: list[int]) -> int:
    tails: list[int] = []
    for value in values:
        low, high = 0, len(tails)
        while low < high:
            middle = (low + high) // 2
            if tails[middle] < value:
                low = middle + 1
            else:
                high = middle
        if low == len(tails):
            tails.append(value)
        else:
            tails[low] = value
    return len(tails)


def read_numbers(path: str) -> list[int]:
    with open(path, encoding="utf-8") as handle:
        return [int(line) for line in handle if line.strip()]


if __name__ == "__main__":
    print(longest_increasing_subsequence([10, 9, 2, 5, 3, 7, 101, 18]))
    for index, item in enumerate(["alpha", "beta", "gamma"]):
        print(f"{index}: {item}")
''',
    """import matplotlib.pyplot as plt
import numpy as np

quarters = ["Q1", "Q2", "Q3", "Q4"]
sales = {"Widgets": [120, 135, 150, 170], "Gadgets": [90, 110, 95, 130], "Gizmos": [60, 75, 80, 100]}
x = np.arange(len(quarters))
width = 0.25
fig, ax = plt.subplots(figsize=(8, 5))
for offset, (name, values) in enumerate(sales.items()):
    bars = ax.bar(x + offset * width, values, width, label=name)
    ax.bar_label(bars, padding=3)
ax.set_xticks(x + width, quarters)
ax.set_ylabel("Sales (units)")
ax.set_title("Quarterly sales")
ax.legend(loc="upper left")
plt.tight_layout()
plt.savefig("chart.png")
""",
    """class Stack:
    def __init__(self) -> None:
        self._items: list[object] = []

    def push(self, item: object) -> None:
        self._items.append(item)

    def pop(self) -> object:
        if not self._items:
            raise IndexError("pop from an empty stack")
        return self._items.pop()

    def __len__(self) -> int:
        return len(self._items)


def test_stack() -> None:
    stack = Stack()
    stack.push(1)
    stack.push(2)
    assert stack.pop() == 2
    assert len(stack) == 1
""",
    # HTML and CSS.
    """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Pricing</title>
  <link rel="stylesheet" href="style.css">
</head>
<body>
  <main class="container">
    <div class="card">
      <h2 class="card-title">Pro plan</h2>
      <p class="price"><span class="amount">$29</span> per month</p>
      <ul class="features">
        <li>Unlimited projects</li>
        <li>Priority support</li>
        <li>Custom domains</li>
      </ul>
      <button class="button primary" type="button">Get started</button>
    </div>
    <form class="login" action="/login" method="post">
      <label for="email">Email</label>
      <input id="email" name="email" type="email" placeholder="you@example.com">
      <label for="password">Password</label>
      <input id="password" name="password" type="password">
      <input id="remember" type="checkbox"> <label for="remember">Remember me</label>
      <a href="/forgot">Forgot your password?</a>
    </form>
  </main>
</body>
</html>
""",
    """body {
  margin: 0;
  font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  background-color: #f3f4f6;
  color: #111827;
}
.container {
  display: flex;
  align-items: center;
  justify-content: center;
  gap: 24px;
  min-height: 100vh;
}
.card {
  width: 320px;
  padding: 32px;
  border-radius: 16px;
  background: #ffffff;
  box-shadow: 0 10px 25px rgba(0, 0, 0, 0.1);
}
.card-title { font-size: 1.5rem; font-weight: 600; margin: 0 0 8px; }
.price .amount { font-size: 2.5rem; font-weight: 700; color: #4f46e5; }
.features { list-style: none; padding: 0; margin: 24px 0; line-height: 2; }
.button.primary {
  width: 100%;
  padding: 12px 16px;
  border: none;
  border-radius: 8px;
  background-color: #4f46e5;
  color: white;
  cursor: pointer;
}
.button.primary:hover { background-color: #4338ca; }
""",
    # JavaScript.
    """const items = document.querySelectorAll(".features li");
items.forEach((item, index) => {
  item.addEventListener("click", () => {
    item.classList.toggle("selected");
    console.log(`feature ${index} clicked`);
  });
});

function debounce(callback, delay = 200) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => callback(...args), delay);
  };
}

async function loadData(url) {
  const response = await fetch(url);
  if (!response.ok) {
    throw new Error(`request failed with status ${response.status}`);
  }
  return response.json();
}

export { debounce, loadData };
""",
)
