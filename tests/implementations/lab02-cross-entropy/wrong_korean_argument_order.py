"""Lab 02 - the Korean blog's softmax_cee(y, y_i), renamed.

BUG: copied with the document's parameter order, (targets y, predictions y_i), while
the grader calls cross_entropy_error(predictions, targets); it loops over len() of the
first argument and takes -log(sum(y_i[i] * y[i])) per row, with no delta.
Consequences: a 1-D y is treated as K one-element "samples" (-log(y_k * t_k) with
t_k = 0 gives inf); integer labels multiply probabilities by the label value (wrong,
label 0 gives inf); a zero probability at the true class gives inf. Because the
product is symmetric, 2-D one-hot batches without zeros at the true class still give
the right value. Fails 1-D fixtures, labels fixtures and zero-probability fixtures.
(The document's per-sample print is commented out.)
"""
import numpy as np


def cross_entropy_error(y, y_i):
    # y: 실제값, y_i: 예측값
    result = 0
    for i in range(len(y)):
        result += -np.log(np.sum(y_i[i]*y[i]))
        # print(f"{i+1}번째 데이터에 대한 CEE={-np.log(np.sum(y_i[i]*y[i]))}")
    return (result/len(y))
