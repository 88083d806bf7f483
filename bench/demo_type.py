"""How often a demo checkpoint answers the agent's chart-type question right (tracker issue 15).

    .venv/bin/python bench/demo_type.py MODEL SYNTH_FOLDER [--ask type|mimic] [--limit 140] [--threads 2]

`--ask type` (the default): the agent's own question (`agent/prompts/chart.md`, "type"), asked with the
picture alone, greedy, through transformers; the right answer is the synthetic chart's type in the agent's
words (`training/demo/mix.py`'s AGENT_TYPE_WORDS). `--ask mimic`: eval's ChartMimic instruction, and the
type the script's first line names (`# bar chart`), in the same words: whether what the model sees reaches
the script. Prints the share right and the confusions. What it tells
apart: a model that cannot see the chart type (the vision tower) from one that sees it but writes another
type's script (the language model), which eval's figures alone do not.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="A demo checkpoint folder.")
    parser.add_argument("synth", type=Path, help="A `data synth --kind chart` folder (records.jsonl, images/).")
    parser.add_argument("--ask", choices=("type", "mimic"), default="type")
    parser.add_argument("--limit", type=int, default=140)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from viscodex.agent import prompts
    from viscodex.training.data.synth.charts import NAMES
    from viscodex.training.demo.mix import AGENT_TYPE_WORDS
    from viscodex.training.eval.chartmimic import PROMPT

    named = {f"# {name}": AGENT_TYPE_WORDS[kind] for kind, name in NAMES.items() if kind in AGENT_TYPE_WORDS}

    torch.set_num_threads(args.threads)
    processor = AutoProcessor.from_pretrained(str(args.model))  # type: ignore[no-untyped-call]
    model = AutoModelForImageTextToText.from_pretrained(str(args.model), dtype=torch.float32).eval()  # type: ignore[no-untyped-call]
    question = prompts.render("chart", "type") if args.ask == "type" else PROMPT.format(width=6, height=4)
    messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    confusions: collections.Counter[tuple[str, str]] = collections.Counter()
    lines = (args.synth / "records.jsonl").read_text(encoding="utf-8").splitlines()[: args.limit]
    for line in lines:
        record = json.loads(line)
        want = AGENT_TYPE_WORDS.get(record["meta"]["chart_type"])
        if want is None:
            continue
        picture = Image.open(args.synth / record["images"][0]).convert("RGB")
        inputs = processor(text=[text], images=[picture], return_tensors="pt")
        with torch.no_grad():
            out = model.generate(**inputs, max_new_tokens=4 if args.ask == "type" else 12, do_sample=False)
        answer = processor.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)[0]
        if args.ask == "mimic":  # the first line of the script: "# bar chart" -> "bar"
            first = answer.removeprefix("```python").strip().split("\n", 1)[0].strip()
            answer = named.get(first, first)
        confusions[(want, answer.strip())] += 1
    total = sum(confusions.values())
    right = sum(n for (want, got), n in confusions.items() if want == got)
    asked = "chart-type question" if args.ask == "type" else "script first line"
    print(f"{asked} right: {right} of {total} ({100 * right / max(total, 1):.0f}%)")
    for (want, got), n in sorted(confusions.items()):
        print(f"  {want:8} -> {got:10} {n}")


if __name__ == "__main__":
    main()
