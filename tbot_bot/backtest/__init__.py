"""Backtests: history replayed through the production session runner on SIM (trading spec §15).

`tbot backtest` (`cli`) prepares a request (`config`), replays every full session of a data set
through `runtime.sim_day.run_day` (`engine`), computes the §15 statistics (`metrics`, pure) and
writes the run folder (`artifacts`, `report`). Sweeps (`sweep`) run a grid of settings through an
executor (`executors`: local processes by default, Ray or Dask when installed).
"""
