"""`python -m eprop.results --schema-markdown`: print the "HDF5 schema" table of docs/results.md."""

from eprop.results.schema import main

raise SystemExit(main())
