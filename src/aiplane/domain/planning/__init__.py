"""The planner: from a workload portfolio to an architecture and a monthly cost plan.

Pure computation over plain data, no server needed:

    portfolio.parse(document)   -> Portfolio      validated input; errors name the field
    planner.plan(portfolio)     -> PortfolioPlan  decisions, costs, savings by lever

`catalog` holds the prices and assumptions (the built-in defaults reproduce
docs/reference-figures.md); `rules` the non-negotiables that rule options out;
`sizing` how much hardware a workload needs; `costing` the price lines of an option;
`savings` the lever-by-lever walk from the baseline to the chosen plan.
"""
