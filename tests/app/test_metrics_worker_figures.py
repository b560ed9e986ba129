"""The TWS worker's figures as metric families: what is not a number or not a short identifier is left out, so a
broken worker can neither fail a scrape nor grow its label set."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from app.metrics.worker_figures import FIGURES, LABELLED_FIGURES, MAX_LABEL_VALUES, figure_metrics


def samples(figures: dict[str, object]) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in figure_metrics(figures) for s in family.samples}


def test_figures_that_are_not_numbers_are_left_out() -> None:
    found = samples({"connected": True, "reconnects": "3", "cache_bytes": float("nan"), "store_bars": None,
                     "uptime_seconds": 12.5, "cache_hits": [1]})
    assert found == {("tws_bridge_tws_connected", ()): 1.0, ("tws_bridge_worker_uptime_seconds", ()): 12.5}


def test_label_values_must_be_short_identifiers_and_are_bounded() -> None:
    codes = {"200": 1, "bad code": 2, 'x"}': 3, "y" * 65: 4, "162": "many"}
    found = samples({"tws_errors": codes})
    assert found == {("tws_bridge_tws_errors_total", (("code", "200"),)): 1.0}
    many = samples({"jobs": {f"s{i}": i for i in range(MAX_LABEL_VALUES + 50)}})
    assert len(many) == MAX_LABEL_VALUES


def test_a_connection_state_outside_the_listed_ones_shows_none_as_current() -> None:
    found = samples({"connection_state": "connected", "connection_states": ["stopped", "connected", "in valid"]})
    assert found == {("tws_bridge_tws_connection_state", (("state", "connected"),)): 1.0,
                     ("tws_bridge_tws_connection_state", (("state", "stopped"),)): 0.0}


def test_metric_names_carry_the_prefix_and_their_unit() -> None:
    names = [name for _, name, *_ in FIGURES] + [name for _, name, *_ in LABELLED_FIGURES]
    assert len(set(names)) == len(names)
    assert all(name.startswith("tws_bridge_") for name in names)
    counters = [name for _, name, kind, _ in FIGURES if kind == "counter"]
    assert all(name.endswith("_total") for name in counters)
    assert all(name.endswith("_total") for _, name, _, kind, _ in LABELLED_FIGURES if kind == "counter")
    assert all(name.endswith("_bytes") for key, name, *_ in FIGURES if key.endswith("bytes"))


def test_every_figure_renders_in_the_text_format() -> None:
    figures: dict[str, object] = {key: 1 for key, *_ in FIGURES}
    figures |= {key: {"a": 1} for key, *_ in LABELLED_FIGURES}

    class Figures:
        def collect(self):  # type: ignore[no-untyped-def]
            return figure_metrics(figures)

    registry = CollectorRegistry()
    registry.register(Figures())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    for _, name, *_ in FIGURES:
        assert f"\n{name} 1.0\n" in text or text.startswith(f"{name} 1.0\n"), name
