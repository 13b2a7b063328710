"""The recorder: followed frames -> committed dataset episodes, with a live view."""
