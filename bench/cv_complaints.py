"""5-fold CV of the default complaint model on complaints-dev.csv, seeds 0-2: macro-F1 and complaint recall.

Usage: python -m bench.cv_complaints [csv]  (by default the data set bench_triage finds)
"""

import csv
import sys

from bench.bench_triage import DATA
from bot.complaints import train
from bot.triage import Triager, _folds, scores_for, text_features


def main(path: str = str(DATA)) -> None:
    with open(path, newline="") as f:
        examples = [(r["text"], int(r["complaint"])) for r in csv.DictReader(f)]
    featurer = Triager()
    feats = [text_features(featurer, t) for t, _ in examples]
    truth = [y for _, y in examples]
    f1s, recalls = [], []
    for seed in (0, 1, 2):
        predicted = [0] * len(examples)
        for fold in _folds(examples, 5, seed):
            held = set(fold)
            model = train([(feats[i], truth[i]) for i in range(len(examples)) if i not in held], version="cv")
            for i in fold:
                predicted[i] = int(model.score(feats[i])[0] >= model.threshold)
        s = scores_for(truth, predicted)
        f1s.append(s["macro_f1"])
        recalls.append(s["per_class"]["complaint"]["recall"])
        print(f"seed {seed}: macro-F1 {s['macro_f1']:.4f} complaint recall {recalls[-1]:.4f}", flush=True)
    print(f"mean: macro-F1 {sum(f1s) / 3:.4f} complaint recall {sum(recalls) / 3:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
