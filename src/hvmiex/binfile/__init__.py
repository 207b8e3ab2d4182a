"""The exceptions.bin format: record declarations (:mod:`layout`) and the writer."""
