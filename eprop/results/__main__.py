"""`python -m eprop.results --schema-markdown`: print the README's "HDF5 schema" table."""

from eprop.results.schema import main

raise SystemExit(main())
