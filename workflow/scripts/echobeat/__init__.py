"""echobeat: the library behind the EchoNet-Dynamic reproduction workflow.

Each module has one job:

- data: ``problems`` (what verification reports), ``csvtable``, ``filelist`` and ``tracings``
  (reading and checking the CSV files; tracings to masks and volumes), ``video_io`` (OpenCV
  reading and writing), ``verify`` (the dataset check that yields the manifest), ``phantom``
  and ``synthetic`` (the synthetic EchoNet-format dataset);
- fast data path: ``cache`` (decoded videos, memory-mapped), ``clips`` (clip geometry),
  ``normalisation``, ``datasets`` (torch datasets on the cache);
- models: ``models`` (construction and weights), ``training`` (the loop shared by both
  stages, checkpoint and resume), ``segmentation`` and ``segmentation_run``, ``beats``,
  ``overlays``, ``video`` and ``video_run``;
- ``stats`` (pooled Dice, regression metrics, the original's bootstrap), ``atomic``
  (outputs that are complete or absent) and ``logs`` (rule-script logging).
"""

__version__ = "0.1.0"
