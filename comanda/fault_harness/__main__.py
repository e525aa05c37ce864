"""`python -m comanda.fault_harness supervise ...`: the worker supervisor the harness starts."""

from comanda.fault_harness.supervisor import main

main()
