"""Moving in: imports from our own CSV (the lossless round trip), Homebox (CSV and backup
zip), Snipe-IT, Grocy and any spreadsheet (CSV or XLSX, with a column mapping).

- readers (`native`, `homebox`, `snipeit`, `grocy`, `spreadsheet`) turn a file into rows of
  item input (`source`); `service.read_file` recognises which reader a file needs.
- `pipeline` plans (the preview: writes nothing, takes no asset numbers) and applies in bulk.
- `service` holds the use cases: `import_now` within a request or command, `start_import` /
  `start_apply` as background jobs (`job_handler` is the job kind "import").
"""

from inventory.imports.service import (
    FORMATS,
    INSTANT_ROWS,
    JOB_KIND,
    ImportReport,
    MappingRequired,
    failure_detail,
    import_now,
    job_handler,
    parse_mapping,
    read_file,
    run_import,
    start_apply,
    start_import,
)

__all__ = [
    "FORMATS",
    "INSTANT_ROWS",
    "JOB_KIND",
    "ImportReport",
    "MappingRequired",
    "failure_detail",
    "import_now",
    "job_handler",
    "parse_mapping",
    "read_file",
    "run_import",
    "start_apply",
    "start_import",
]
