"""Routes of data protection: anonymisation (admin) and each user's copy of their data."""

from tests.matrix import ALL, Route, roles

ROUTES: dict = {
    ("fund.anonymise_user", "POST"): Route(roles("admin"), body={}),
    ("fund.my_data", "GET"): Route(ALL),
    ("grants_privacy.anonymise_organisation", "POST"): Route(roles("admin"),
                                                             args=lambda users: {"organisation_id": 999999},
                                                             body={}),
}
