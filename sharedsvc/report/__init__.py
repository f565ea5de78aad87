"""Reports: rendering only, no arithmetic. `tables` decides the rows every format shows;
`text` renders a `Result` (table, json, csv, markdown), `xlsx` typed tables as a
workbook, `html` and `svg` the self-contained report with its map and charts;
`benchmark` and `comparison` render those analyses; `catalogue` renders what the
installed plugins offer."""
