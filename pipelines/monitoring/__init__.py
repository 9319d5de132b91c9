"""Monitoring periods: from accepted warehouse rows to a methodology result for one period.

One module per methodology. Each loads the accepted rows it needs (with SQL, in the warehouse),
calls the pure methodology module, and returns a `PeriodResult` of named tables: what the period
assets store and what the verifier package contains.
"""
