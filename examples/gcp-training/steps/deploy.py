"""Deploys the trained model to the Vertex AI endpoint (pulumi-gcp has no resource for it).

Runs for real only where the artifact store is on Cloud Storage (the gcp stack): the
model is written as model.pkl under the store's ``serving/`` folder (named by its
digest, so an unchanged model is not uploaded twice), uploaded as a Vertex model
served by Google's prebuilt scikit-learn image, deployed to the endpoint with all the
traffic, and the endpoint's older models are undeployed. Elsewhere (the local stack)
it deploys nothing and says so in its output. Needs google-cloud-aiplatform in the
step image.
"""

import hashlib
import pickle

from zplan import runtime


def deploy(model, endpoint: str, project: str, region: str, image: str, machine_type: str) -> str:
    ctx = runtime.current()
    store = ctx.artifact_store_url if ctx else ""
    if not store.startswith("gs://"):
        return f"not deployed: the artifact store {store or '(none)'} is not on Cloud Storage; apply on the gcp stack"
    from google.cloud import aiplatform, storage

    data = pickle.dumps(model, protocol=5)
    folder = f"{store.rstrip('/')}/serving/{hashlib.sha256(data).hexdigest()[:32]}"
    bucket, _, prefix = folder.removeprefix("gs://").partition("/")
    storage.Client(project=project).bucket(bucket).blob(f"{prefix}/model.pkl").upload_from_string(data)

    aiplatform.init(project=project, location=region)
    uploaded = aiplatform.Model.upload(display_name=endpoint, artifact_uri=folder, serving_container_image_uri=image)
    target = aiplatform.Endpoint(endpoint)
    target.deploy(model=uploaded, traffic_percentage=100, machine_type=machine_type)
    for deployed in target.list_models():
        if deployed.model != uploaded.resource_name:
            target.undeploy(deployed.id)
    return uploaded.resource_name
