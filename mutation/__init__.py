"""Mutation testing of refconv's formula modules: ``nox -s mutation`` and its report."""
