"""Scores sentences with the packaged weights: python3 predict.py "I love it"."""
import json
import math
import pathlib
import sys

weights = json.loads((pathlib.Path(__file__).parent.parent / "model" / "weights.json").read_text())


def score(text: str) -> float:
    z = weights["bias"] + sum(weights["weights"].get(w, 0.0) for w in text.lower().split())
    return 1 / (1 + math.exp(-z))


if __name__ == "__main__":
    for sentence in sys.argv[1:]:
        print(f"{score(sentence):.3f}\t{sentence}")
