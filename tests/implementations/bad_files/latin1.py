# Fonction de coût : erreur quadratique (somme des carrés), écrite à la main.
# Élève : Hélène Müller -- « deep learning » chapitre 4.2
import numpy as np


def mean_squared_error(y, t):
    # conversion en tableaux numpy (listes acceptées)
    y = np.asarray(y, dtype=float)
    t = np.asarray(t, dtype=float)
    return 0.5 * np.sum((y - t) ** 2)
