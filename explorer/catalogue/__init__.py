"""The catalogue side of the registry: understanding a search request, semantic vectors, spelling,
and the federated sources (which catalogues are harvested, and when).

Owns: ``query`` (a request → the words that matter, synonyms), ``semantic`` (the offline embedding
model and the vectors kept per entry version), ``spelling`` ("Did you mean …" from the registry's
own words), ``lexical`` (the in-memory BM25F index of a registry version and the fusion of its
ranking with semantic similarity, pure functions any backend can call), ``sources`` (the sources file, harvesting every source, its status, the schedule),
``merge`` (one entry for a dataset that a curated entry and a harvested record both describe).
May import ``explorer.catalogue.models``, ``explorer.settings``, ``explorer.catalogue.synonyms`` and
``explorer.catalogue.harvest``; ``explorer.catalogue.registry`` imports ``query``, ``lexical``, ``semantic`` and ``spelling``.
"""
