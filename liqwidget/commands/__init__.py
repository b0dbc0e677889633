"""Sub-commands of the ``liqwidget`` command, one module each (see ``liqwidget.cli``)."""
