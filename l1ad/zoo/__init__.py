"""Models l1ad builds rather than trains: its own examples of the forms users bring (:mod:`.examples`), the public
anomaly-detection triggers rebuilt as their authors wrote them (:mod:`.public`), and seeded random models for
differential testing (:mod:`.random`). Each gets its weights from :func:`.weights.randomize`."""
