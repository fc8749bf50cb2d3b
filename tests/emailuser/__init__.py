"""An email-only user model (no username), for the tests that run a site with one.

Not installed in the suite's settings: the browser tests start the example site
with ``AUTH_USER_MODEL = "emailuser.User"`` to see its admin login as such a site does.
"""
