"""Steps of the beam-preprocess example.

``generate`` writes synthetic purchase events, ``preprocess`` cleans them and
adds features with Apache Beam (on the stack's runner: this machine's
DirectRunner by default, Dataflow, Spark or Flink by changing the stack), and
``summarise`` is a plain pandas step over the result.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import apache_beam as beam

import zplan
from eventgen import generate_events
from zplan.beam.dataset import ShardedDataset

# Fixed conversion rates, so results do not depend on the day they are computed.
EUR_RATES = {"DE": 1.0, "FR": 1.0, "NL": 1.0, "ES": 1.0, "IT": 1.0, "GB": 1.17, "US": 0.92, "PL": 0.23}


def generate(rows: int, seed: int) -> ShardedDataset:
    ctx = zplan.current()
    scratch = ctx.scratch_dir if ctx else Path(tempfile.mkdtemp(prefix="events-"))
    return generate_events(rows, seed, scratch / "events")


@zplan.beam_step(num_shards=8)
def preprocess(events: beam.PCollection, min_amount: float = 0.0) -> beam.PCollection:
    return (
        events
        | "Keep purchases" >> beam.Filter(is_purchase, min_amount)
        | "Add features" >> beam.Map(features)
    )


def is_purchase(event: dict, min_amount: float) -> bool:
    amount = event["amount"]
    return event["country"] is not None and amount is not None and not math.isnan(amount) and amount >= min_amount


def features(event: dict) -> dict:
    ts = event["ts"]
    return {
        "event_id": event["event_id"],
        "user_id": event["user_id"],
        "country": event["country"],
        "device": event["device"],
        "amount_eur": event["amount"] * EUR_RATES[event["country"]],
        "hour": ts // 3600 % 24,
        "weekday": (ts // 86_400 + 3) % 7,  # 1970-01-01 was a Thursday; Monday = 0
    }


def preprocess_frame(events, min_amount: float = 0.0):
    """The same transform as ``preprocess``, in pandas (the benchmark's baseline)."""
    kept = events[events["country"].notna() & events["amount"].notna() & (events["amount"] >= min_amount)]
    return kept.assign(
        amount_eur=kept["amount"] * kept["country"].map(EUR_RATES),
        hour=kept["ts"] // 3600 % 24,
        weekday=(kept["ts"] // 86_400 + 3) % 7,
    ).drop(columns=["amount", "ts"])


def summarise(clean: ShardedDataset) -> dict:
    df = clean.to_pandas(columns=["country", "amount_eur", "hour"])
    by_country = df.groupby("country")["amount_eur"].mean().round(2)
    return {
        "purchases": int(len(df)),
        "revenue_eur": round(float(df["amount_eur"].sum()), 2),
        "mean_eur_by_country": {str(k): float(v) for k, v in by_country.items()},
        "busiest_hour": int(df["hour"].value_counts().idxmax()) if len(df) else None,
    }
