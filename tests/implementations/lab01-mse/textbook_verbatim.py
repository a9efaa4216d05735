"""Lab 01 - copied verbatim from the course notes.

BUG: no np.asarray. `y - t` only works on NumPy arrays; when both arguments are
Python lists it raises TypeError (unsupported operand type(s) for -: 'list' and
'list'). Should pass every NumPy-array fixture and fail only the Python-list fixtures.
"""
import numpy as np

#Correct answer data(one-hot-label)
t = [0,0,1,0,0]

#Define a function of sum of squares error
def mean_squared_error(y,t):
    return 0.5 * np.sum((y-t)**2)

#Pattern 1(Close to correct data)
y1 = [0.01,0.02,0.9,0.05,0.02]
#Pattern 2(Far from correct data)
y2 = [0.5,0.1,0.2,0.2,0.1]

out1 = mean_squared_error(np.array(y1),np.array(t))
out2 = mean_squared_error(np.array(y2),np.array(t))
