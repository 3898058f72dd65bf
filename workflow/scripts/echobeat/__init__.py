"""echobeat: the library behind the EchoNet-Dynamic reproduction workflow.

Modules each have one job: ``problems`` (what verification reports), ``filelist`` and
``tracings`` (reading and checking the two CSV files; tracings to masks and volumes),
``video_io`` (OpenCV reading and writing), ``verify`` (the dataset check that yields the
manifest), ``phantom`` and ``synthetic`` (the synthetic EchoNet-format dataset),
``atomic`` (outputs that are complete or absent) and ``logs`` (rule-script logging).
"""

__version__ = "0.1.0"
