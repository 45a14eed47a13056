"""What only the book needs: its figures, its stored results and its trained networks.

(This is the package's part for the rendered book in the repository's ``book/``
folder and ``notebooks/``; the layers, data, training and studies do not use it.)

* :mod:`.dataflow`, :mod:`.diagrams` - block diagrams traced from the modules themselves
* :mod:`.chapter` - what every chapter's first cell does (device, budget), and the figure style
  that keeps figures legible at the width the page shows them
* :mod:`.report` - results rows as tables (pandas): provenance, accuracies by seed, paired comparisons
* :mod:`.ablation_report`, :mod:`.figures` - chapter 6's tables and figure, chapters 4 and 5's figures
* :mod:`.speed` - chapter 4's account of CPU speed, from the benchmarks' results files
* :mod:`.repository` - results files of the book's repository, read from a clone or fetched
* :mod:`.pretrained` - the trained networks shipped in ``weights/``, with their cards
"""
