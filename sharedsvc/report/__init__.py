"""Reports: rendering only, no arithmetic. `text` renders a `Result` (table, json, csv,
markdown); `catalogue` renders what the installed plugins offer."""
