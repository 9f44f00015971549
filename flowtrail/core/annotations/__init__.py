"""Features, labels, vocabularies, ontologies, schemas, collections and filters on them."""
