/** The text a new template starts with: a commented Deployment to change. */
export const STARTER_TEMPLATE = `# A template holds the Kubernetes objects an application deploys,
# separated by lines of "---". Creating it makes version 1. Every save,
# trigger patch, image update or rollback makes a new numbered version;
# versions never change.
apiVersion: apps/v1
kind: Deployment
metadata:
  # Patches from trigger calls find an object by kind and this name.
  name: web
  labels:
    app: web
spec:
  # A scale trigger changes this (and keeps it in a new version).
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        # A patch merges containers by name: it can change one image
        # and keep the ports, probes and resources.
        - name: web
          # An image trigger sets the tag when the registry reports a push.
          image: nginx:1.27
          ports:
            - containerPort: 80
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
# ---
# apiVersion: v1
# kind: Service
# metadata:
#   name: web
# spec:
#   selector:
#     app: web
#   ports:
#     - port: 80
#       targetPort: 80
`;
