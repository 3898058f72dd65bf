"""echobeat: the library behind the EchoNet-Dynamic reproduction workflow.

Its subpackages are its layers; a module has one job (docs/layout.md says where to add what):

- ``data``: the EchoNet layout and the fast data path, torch-free except the Normaliser's
  batch method: ``names`` (file-name conventions), ``problems``, ``csvtable``, ``filelist``
  and ``tracings`` (reading and checking the CSV files; tracings to masks and volumes),
  ``video_io`` (OpenCV reading and writing), ``verify`` (the dataset check that yields the
  manifest), ``phantom`` and ``synthetic`` (the synthetic dataset), ``cache`` (decoded
  videos, memory-mapped), ``clips`` (clip geometry), ``normalisation`` (statistics and the
  ``Normaliser``), ``readers`` and ``preprocess`` (any video or DICOM a user has, to the
  model's 112x112 grey frames), ``predict_examples`` (the demo's example inputs);
- ``models``: ``segmentation`` and ``video`` (constructors and heads), ``weights`` (weight
  files and download errors);
- ``learn``: ``datasets`` (torch datasets on the cache), ``training`` (the loop shared by both
  stages, checkpoint and resume), ``distributed`` (DDP), ``segmentation_task`` and
  ``video_task`` (each stage's loss and metrics);
- ``inference``: ``segmentation`` (per-frame sizes, size.csv), ``beats`` (end-systoles),
  ``measurements`` (ED frames, areas, FAC, area-length EF per beat), ``video`` (batched clip
  predictions), ``overlays``; never needs a label;
- ``analysis``: ``methods`` (the EF methods), ``beat_by_beat`` (the authors' R procedure),
  ``metrics``, ``dice``, ``stats``, ``tables`` (reading prediction and size files),
  ``figures``, ``comparison``, ``video_report`` (the prediction report); never imports torch;
- ``stages``: what each rule does (``segmentation``, ``video``, ``video_worker``,
  ``analysis``, ``predict``) and the config keys each rule gets (``rule_settings``);
- top level: ``compute`` (device, precision, layout and threads as one object), ``atomic``
  (outputs that are complete or absent), ``logs`` (rule-script logging).
"""

__version__ = "0.1.0"
