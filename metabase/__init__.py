"""The shipped metabase (data only), installed as the resource package ``autometa_metabase``.

Read it with :func:`autometa.metabase.open_metabase`; rebuild or extend it with
``scripts/build_metabase.sh`` (see ``autometa metabase info`` for how it was built).
"""
