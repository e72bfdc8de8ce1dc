"""Exchange rates: the dated rate table the user controls, and conversion at a day's rate.

Money stays in the currency it was charged in (records.py, the ledger, the exports); a
display currency converts it when it is read. This package is pure (no storage, no
queries): `rates` holds the rule of which rate applies to a day (the day's own, else the
last one before it) and the arithmetic; `files` reads the ECB's euro reference rates and
a generic `date,currency,rate` CSV into rates; `fetch` downloads the ECB's file. The
store keeps the table (store/fx_rates.py); queries.py converts reports with `RateBook`.
"""
