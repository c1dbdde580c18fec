"""Tests for vocab.context: our context, its place after AS2 and security v1, and its definition in coop.ttl."""

import json

import pytest
import rdflib
from pyld import jsonld
from rdflib.namespace import OWL, RDF, RDFS

from vocab.context import (
    AS2_CONTEXT_URL,
    bundled_text,
    AS2_PUBLIC,
    CCN_NAMESPACE,
    SECURITY_CONTEXT_URL,
    coop_context,
    document_context,
    vocabulary_turtle,
)
from vocab.loader import jsonld_options

CCN = rdflib.Namespace(CCN_NAMESPACE)
OUR_OWN_TERMS = ("sic2007", "localAuthority", "anchorInstitution", "recurrence", "needs", "offers")


def bundled_context(filename):
    return json.loads(bundled_text("contexts", filename))["@context"]


def is_prefix_definition(value):
    return isinstance(value, str) and value.endswith(("/", "#"))


def coop_terms():
    return [term for term, value in coop_context().items() if not term.startswith("@") and not is_prefix_definition(value)]


def expanded_term_iris():
    """Each coop-v1 term mapped to the IRI pyld expands it to, with the full document context in force."""
    terms = coop_terms()
    document = {"@context": document_context(), "@id": "https://node.example/x", "@type": terms}
    return dict(zip(terms, jsonld.expand(document, jsonld_options())[0]["@type"], strict=True))


@pytest.fixture(scope="module")
def vocabulary():
    return rdflib.Graph().parse(data=vocabulary_turtle(), format="turtle")


def test_document_context_is_as2_security_then_ours():
    context = document_context()
    assert context[0] == "https://www.w3.org/ns/activitystreams"
    assert context[0] == AS2_CONTEXT_URL
    assert context[1] == SECURITY_CONTEXT_URL == "https://w3id.org/security/v1"
    assert context[2] == coop_context()
    assert len(context) == 3


def test_our_namespace_is_coop_commons():
    assert coop_context()["ccn"] == CCN_NAMESPACE == "https://w3id.org/coop-commons/ns#"
    assert AS2_PUBLIC == "https://www.w3.org/ns/activitystreams#Public"


def test_coop_context_is_a_fresh_copy_each_call():
    first = coop_context()
    first["legalName"] = "https://evil.example/legalName"
    first["purpose"]["@context"]["@vocab"] = "https://evil.example/"
    again = coop_context()
    assert again["legalName"] == "schema:legalName"
    assert again["purpose"]["@context"]["@vocab"] == "https://w3id.org/valueflows/ont/vf#"


def test_no_term_redefines_an_as2_term():
    assert set(coop_terms()) & set(bundled_context("activitystreams.jsonld")) == set()
    assert set(coop_context()) & set(bundled_context("activitystreams.jsonld")) == set()


def test_no_term_redefines_a_security_v1_term():
    assert set(coop_context()) & set(bundled_context("security-v1.jsonld")) == set()


def test_every_term_expands_to_an_absolute_iri():
    for term, iri in expanded_term_iris().items():
        assert iri.startswith(("http://", "https://")), f"{term} expands to {iri}"


def test_every_term_is_defined_in_the_vocabulary(vocabulary):
    subjects = set(vocabulary.subjects())
    undefined = {term: iri for term, iri in expanded_term_iris().items() if rdflib.URIRef(iri) not in subjects}
    assert undefined == {}


def test_every_declared_term_names_its_defining_vocabulary(vocabulary):
    for term, iri in expanded_term_iris().items():
        assert vocabulary.value(rdflib.URIRef(iri), RDFS.isDefinedBy) is not None, term
        assert vocabulary.value(rdflib.URIRef(iri), RDFS.label) is not None, term


@pytest.mark.parametrize("term", OUR_OWN_TERMS)
def test_our_own_terms_are_fully_defined(vocabulary, term):
    iri = CCN[term]
    assert expanded_term_iris()[term] == str(iri)
    assert vocabulary.value(iri, RDFS.label) is not None
    assert vocabulary.value(iri, RDFS.comment) is not None
    assert (iri, RDF.type, RDF.Property) in vocabulary
    assert vocabulary.value(iri, RDFS.isDefinedBy) == rdflib.URIRef("https://w3id.org/coop-commons/ns")


def test_vocabulary_declares_an_ontology(vocabulary):
    ontologies = list(vocabulary.subjects(RDF.type, OWL.Ontology))
    assert ontologies == [rdflib.URIRef("https://w3id.org/coop-commons/ns")]
    assert str(vocabulary.value(ontologies[0], OWL.versionInfo)) == "0.1"


def test_scoped_vocab_terms_expand_values_to_iris():
    document = {
        "@context": document_context(),
        "@id": "https://node.example/p#primary",
        "action": "transfer",
        "resourceQuantity": {"@id": "https://node.example/p#q", "hasNumericalValue": "40.0", "hasUnit": "kilogram"},
    }
    [node] = jsonld.expand(document, jsonld_options())
    assert node["https://w3id.org/valueflows/ont/vf#action"] == [{"@id": "https://w3id.org/valueflows/ont/vf#transfer"}]
    [quantity] = node["https://w3id.org/valueflows/ont/vf#resourceQuantity"]
    assert quantity["http://www.ontology-of-units-of-measure.org/resource/om-2/hasUnit"] == [
        {"@id": "http://www.ontology-of-units-of-measure.org/resource/om-2/kilogram"}
    ]
