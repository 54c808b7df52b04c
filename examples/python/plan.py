#!/usr/bin/env python3
"""Plan a compute-optimal training run (Chinchilla) and propose a model shape.

usage: plan.py [--compute FLOPS | --hours H --tokens-per-second R --measured-params M]

Examples:
  plan.py --compute 1e21
  plan.py --hours 2 --tokens-per-second 25000 --measured-params 1.2e6
"""
import argparse

import libllm


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compute", type=float, help="training budget in FLOPs")
    ap.add_argument("--hours", type=float, help="wall-clock budget (needs a measured throughput)")
    ap.add_argument("--tokens-per-second", type=float, help="measured training throughput")
    ap.add_argument("--measured-params", type=float, help="size of the model it was measured on")
    ap.add_argument("--approach", type=int, default=3, choices=(1, 2, 3))
    a = ap.parse_args()
    if a.compute is None:
        if not (a.hours and a.tokens_per_second and a.measured_params):
            ap.error("give --compute, or --hours with --tokens-per-second and --measured-params")
        a.compute = libllm.plan_budget(a.hours * 3600, a.tokens_per_second, a.measured_params)
    p = libllm.plan_for_compute(a.compute, a.approach)
    print(f"budget        {p.compute:.3g} FLOPs (approach {p.approach})")
    print(f"parameters    {p.params:.3g}")
    print(f"tokens        {p.tokens:.3g} ({p.tokens_per_param:.1f} per parameter)")
    print(f"loss          {p.loss:.3f} nats/token (parametric law)")
    if a.tokens_per_second and a.measured_params:
        s = libllm.plan_seconds(p.tokens, a.tokens_per_second, p.params, a.measured_params)
        print(f"time          {s / 3600:.2f} h on the measured machine")
    try:
        cfg, n = libllm.suggest_config(p.params)
        print(f"suggested     n_layer={cfg.n_layer} n_embd={cfg.n_embd} n_head={cfg.n_head} "
              f"({n:,} parameters)")
        c = libllm.count_model(cfg)
        print(f"training      {c.flops_train_chinchilla:.3g} FLOPs/token (Chinchilla count), "
              f"{c.flops_train_6n:.3g} (6N)")
    except libllm.OutOfRange as e:
        print("no configuration suggested:", e.message)


if __name__ == "__main__":
    main()
