"""Tools around the score model, never used while the site serves members.

Two kinds live here. The demo: a world of members with real friends and real payment histories
(``world``, behind ``manage.py seed_demo``) and live partner traffic for it (``simulator``,
``manage.py simulate``). And the model's calibration and evaluation on the real UCI "default of
credit card clients" data: ``uci`` turns a row of it into Credo events, ``calibrate`` fits the
constants of ``scoring.model.params`` on the train split, and ``evaluation`` measures how well
the score ranks the test split (``manage.py evaluate_scoring``).
"""
