"""The real app a learner graduates to in chapter 07, grown chapter by chapter.

Meanwhile it provides what the article uses but never defines (its ``User`` row,
``db``, ``verify_jwt``, ``email_client``), each added by the chapter that first needs it.
"""
