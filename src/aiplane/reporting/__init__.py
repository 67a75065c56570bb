"""Planner reports: a neutral table model (`report`), rendered as JSON, Markdown and HTML with SVG charts."""
