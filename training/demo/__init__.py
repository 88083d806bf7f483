"""The demo model `viscodex-demo-chart` and `viscodex-train demo`, which makes it (see `pipeline`)."""
