from tests.identity.factories import identity_data, submit_request, verified_user

__all__ = ["identity_data", "submit_request", "verified_user"]
