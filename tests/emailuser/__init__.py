"""An email-only user model (no username), for the suite and the sites its tests start.

Installed by ``tests/settings_email_user.py``, on which the suite runs a second time
(tox env ``email-user``, a step of ``.ci/run``); the browser tests also start the example
site with ``AUTH_USER_MODEL = "emailuser.User"`` to see its admin login as such a site does.
"""
