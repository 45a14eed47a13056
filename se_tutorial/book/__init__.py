"""What only the book needs: its figures, its stored results and its trained networks.

(This is the package's part for the rendered book in the repository's ``book/``
folder and ``notebooks/``; the layers, data, training and studies do not use it.)

* :mod:`.style` - the book's figure style: legible at the width the page shows a figure
* :mod:`.dataflow`, :mod:`.diagrams` - block diagrams traced from the modules themselves
* :mod:`.chapter` - what every chapter's first cell does: device, budget, figure style
* :mod:`.report` - results rows as tables (pandas): provenance, accuracies by seed, paired comparisons
* :mod:`.repository` - results files of the book's repository, read from a clone or fetched
* :mod:`.pretrained` - the trained networks shipped in ``weights/``, with their cards
"""
