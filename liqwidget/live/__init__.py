"""The live process: keep a store, a data file and the live page current (``liqwidget live``).

``publish`` turns the latest window of a market into the live data file, ``page`` writes the
static live page that polls it, ``bars`` keeps candles and open interest current, and
``runner`` ties them to the recorder in one long-running process.
"""
