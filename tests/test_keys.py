"""Tests for federation.keys: RSA-2048 pairs in the PEM encodings Mastodon reads, and signatures that verify."""

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from federation.keys import RSA_KEY_BITS, KeyPair, generate_key_pair, public_pem_of


@pytest.fixture(scope="module")
def pair() -> KeyPair:
    return generate_key_pair()


def test_key_is_rsa_2048_with_the_usual_exponent(pair):
    private_key = serialization.load_pem_private_key(pair.private_pem.encode("ascii"), password=None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert RSA_KEY_BITS == 2048
    assert private_key.key_size == 2048
    assert private_key.public_key().public_numbers().e == 65537


def test_public_key_is_spki_pem(pair):
    assert pair.public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pair.public_pem.rstrip().endswith("-----END PUBLIC KEY-----")
    public_key = serialization.load_pem_public_key(pair.public_pem.encode("ascii"))
    assert isinstance(public_key, rsa.RSAPublicKey)
    assert public_key.key_size == 2048


def test_private_key_is_unencrypted_pkcs8_pem(pair):
    assert pair.private_pem.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert "RSA PRIVATE KEY" not in pair.private_pem
    assert "ENCRYPTED" not in pair.private_pem


def test_public_pem_of_matches_the_generated_public_key(pair):
    assert public_pem_of(pair.private_pem) == pair.public_pem


def test_each_pair_is_fresh(pair):
    other = generate_key_pair()
    assert other.private_pem != pair.private_pem
    assert other.public_pem != pair.public_pem


def test_signature_made_with_the_private_key_verifies_with_the_public_pem(pair):
    message = b"(request-target): post /actors/the_preston_larder/inbox\nhost: coop.example"
    private_key = serialization.load_pem_private_key(pair.private_pem.encode("ascii"), password=None)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public_key = serialization.load_pem_public_key(pair.public_pem.encode("ascii"))
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # raises if it does not verify
    with pytest.raises(InvalidSignature):
        public_key.verify(signature, message + b"x", padding.PKCS1v15(), hashes.SHA256())


def test_signature_does_not_verify_with_another_pairs_key(pair):
    message = b"date: Tue, 07 Jun 2025 20:51:35 GMT"
    private_key = serialization.load_pem_private_key(pair.private_pem.encode("ascii"), password=None)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    stranger = serialization.load_pem_public_key(generate_key_pair().public_pem.encode("ascii"))
    with pytest.raises(InvalidSignature):
        stranger.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
