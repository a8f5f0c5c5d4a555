"""The tutorials' own programs, as their pages write them, trained on the offline data the ports use.

Each module here is one tutorial's program, with only the data source (offline arrays instead of a download), the
epoch count (at most 10) and the seed changed; each returns the numbers its port is compared against.
"""
